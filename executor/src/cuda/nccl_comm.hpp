// Internal: the device communicator of one plan group on one rank. Groups of two or more members
// use NCCL: one communicator per group, its ncclUniqueId made by member 0 and broadcast over the
// group's MPI communicator, plus one ncclCommSplit duplicate per point-to-point tag of the plan, so
// that sends and receives match per (peer, tag) in issue order as the plan's contract says (NCCL
// itself only orders per peer). Every operation is enqueued on the caller's stream. A one-member
// group needs no NCCL: reductions are no-ops, gathers copies, and a send to itself is queued until
// the matching receive (a stream-ordered device copy and an event).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "clustersim/executor/communicator.hpp"
#include "clustersim/executor/cuda/device.hpp"

namespace clustersim::executor::cuda::detail {

class DeviceCommunicator {
 public:
  virtual ~DeviceCommunicator() = default;
  virtual int size() const = 0;
  virtual int index() const = 0;
  virtual std::string describe() const = 0;
  virtual void all_reduce(void* buf, std::int64_t count, DType dtype, ReduceKind op, DeviceStream s) = 0;
  virtual void reduce_scatter(const void* in, void* out, std::int64_t count_per_rank, DType dtype, ReduceKind op,
                              DeviceStream s) = 0;
  virtual void all_gather(const void* in, void* out, std::int64_t count_per_rank, DType dtype, DeviceStream s) = 0;
  virtual void broadcast(void* buf, std::int64_t count, DType dtype, int root, DeviceStream s) = 0;
  virtual void reduce(void* buf, std::int64_t count, DType dtype, ReduceKind op, int root, DeviceStream s) = 0;
  virtual void all_to_all(const void* in, void* out, std::int64_t count_per_rank, DType dtype, DeviceStream s) = 0;
  virtual void send(const void* buf, std::int64_t bytes, int peer, int tag, DeviceStream s) = 0;
  virtual void recv(void* buf, std::int64_t bytes, int peer, int tag, DeviceStream s) = 0;
};

// ncclGroupStart / ncclGroupEnd around several point-to-point calls (no-ops without NCCL traffic).
void group_start();
void group_end();

// The device communicator of a group with `size` members where this rank has `index`. `mpi` is the
// group's MPI communicator (used once, to broadcast the NCCL id). `tags`: every p2p tag the plan
// uses on this group kind, identical on every member. Collective over the group's members.
std::unique_ptr<DeviceCommunicator> make_device_communicator(Communicator& mpi, int size, int index,
                                                             const std::vector<std::int32_t>& tags,
                                                             std::string description);

// NCCL's version as "2.28.9" (empty when unknown).
std::string nccl_version();

}  // namespace clustersim::executor::cuda::detail
