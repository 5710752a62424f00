// Communication for the executor: one Communicator per plan group the rank belongs to, created by a
// CommunicatorFactory. Two implementations: a single-process one (world size 1: every group has one
// member, collectives are copies) and MPI (one MPI communicator per group kind via MPI_Comm_split,
// MPI_THREAD_MULTIPLE because each stream of a rank runs on its own thread). The MPI code lives in
// one source file; this header does not include mpi.h.
//
// Counts are elements of `dtype`. Reductions are defined for fp32/tf32, bf16, fp16 (reduced in fp32
// and rounded back), int32 and int64; non-reducing collectives and point-to-point move any dtype.
// Contract (plan.hpp): collectives on one communicator are issued from one thread in the same order
// on every member; the k-th send a->b with tag g matches the k-th recv on b from a with tag g.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "clustersim/plan/plan.hpp"
#include "clustersim/plan/profile.hpp"

namespace clustersim::executor {

enum class ReduceKind : std::uint8_t { sum, max };

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int size() const = 0;
  virtual int index() const = 0;  // this rank's index in the group
  virtual std::string describe() const = 0;

  // buf = reduction over members, in place.
  virtual void all_reduce(void* buf, std::int64_t count, DType dtype, ReduceKind op) = 0;
  // out (count_per_rank) = this member's chunk of the reduction of in (size * count_per_rank).
  virtual void reduce_scatter(const void* in, void* out, std::int64_t count_per_rank, DType dtype, ReduceKind op) = 0;
  // out (size * count_per_rank) = concatenation of every member's in; in may be out's own chunk (in place).
  virtual void all_gather(const void* in, void* out, std::int64_t count_per_rank, DType dtype) = 0;
  virtual void broadcast(void* buf, std::int64_t count, DType dtype, int root) = 0;
  // buf at `root` = reduction over members; other members' buffers are left unchanged.
  virtual void reduce(void* buf, std::int64_t count, DType dtype, ReduceKind op, int root) = 0;
  // out chunk j = member j's in chunk index().
  virtual void all_to_all(const void* in, void* out, std::int64_t count_per_rank, DType dtype) = 0;
  virtual void send(const void* buf, std::int64_t bytes, int peer, int tag) = 0;
  virtual void recv(void* buf, std::int64_t bytes, int peer, int tag) = 0;
  virtual void barrier() = 0;

  // Control plane (used on the world communicator by the worker, outside the plan's ops).
  virtual void all_reduce_f64(double* buf, std::int64_t count, ReduceKind op) = 0;
  // Every member's string at `root` (index order); other members get an empty vector.
  virtual std::vector<std::string> gather_strings(const std::string& mine, int root) = 0;
};

class CommunicatorFactory {
 public:
  virtual ~CommunicatorFactory() = default;
  virtual int world_rank() const = 0;
  virtual int world_size() const = 0;
  virtual std::string backend() const = 0;  // "local" or "mpi"
  // This rank's communicator for its group of `kind` (`group` null when it has none: a
  // one-member communicator). Collective over the world: every rank calls it for the same kinds,
  // in the same order.
  virtual std::unique_ptr<Communicator> create(GroupKind kind, const plan::Group* group, int index) = 0;
  // The control-plane communicator over all ranks (separate from any plan group's).
  virtual Communicator& world() = 0;
  // How a thread waiting in a data-plane operation learns that it completed
  // (plan::PollSchedule); {0, 0}: it returns at once.
  virtual plan::PollSchedule poll_schedule() const { return {}; }
};

// World size 1.
std::unique_ptr<CommunicatorFactory> make_local_communicators();
// A one-member communicator (what a rank gets for a group kind it is not part of).
std::unique_ptr<Communicator> make_self_communicator(std::string description);

// --- MPI ---------------------------------------------------------------------------------------
// True when the library was built with MPI.
bool mpi_built();

// Initialises MPI with MPI_THREAD_MULTIPLE (unless already initialised) and finalises it on
// destruction when it initialised it. Before initialising it sets OMPI_MCA_mpi_yield_when_idle=1
// unless already set, so a thread waiting in a blocking MPI call (the control plane; data-plane
// operations poll with sleeps) yields its core to the rank's compute thread. Throws Error when the
// library provides less than MPI_THREAD_MULTIPLE or was built without MPI.
class MpiSession {
 public:
  MpiSession();
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  int rank() const;
  int size() const;
  // MPI_Abort on MPI_COMM_WORLD: how a worker main ends every rank after an error on one of them.
  static void abort(int code);

 private:
  bool owns_ = false;
};

// Communicators over MPI_COMM_WORLD. Requires an initialised MPI with MPI_THREAD_MULTIPLE.
std::unique_ptr<CommunicatorFactory> make_mpi_communicators();

}  // namespace clustersim::executor
