// Device communicators over NCCL, and the one-member group without it (nccl_comm.hpp).
#include "nccl_comm.hpp"

#include <cuda_runtime.h>

#include <cstring>

#include "check.hpp"
#include "check_nccl.hpp"
#include "clustersim/plan/error.hpp"

namespace clustersim::executor::cuda::detail {

namespace {

ncclDataType_t nccl_type(DType d, bool reducing, const std::string& where) {
  switch (d) {
    case DType::fp32:
    case DType::tf32:
      return ncclFloat32;
    case DType::bf16:
      return ncclBfloat16;
    case DType::fp16:
      return ncclFloat16;
    case DType::int32:
      return ncclInt32;
    case DType::int64:
      return ncclInt64;
    default:
      if (reducing)
        throw InputError(where + " dtype", "\"" + std::string(to_string(d)) + "\"",
                         "a reducible dtype: fp32, tf32, bf16, fp16, int32 or int64");
      return ncclUint8;  // moved as bytes
  }
}

// Element count in the units nccl_type chose (bytes for moved-only types).
std::size_t nccl_count(std::int64_t count, DType d, bool reducing) {
  const bool native = d == DType::fp32 || d == DType::tf32 || d == DType::bf16 || d == DType::fp16 ||
                      d == DType::int32 || d == DType::int64;
  return static_cast<std::size_t>(native || reducing ? count : count * dtype_bytes(d));
}

ncclRedOp_t nccl_op(ReduceKind op) {
  return op == ReduceKind::max ? ncclMax : ncclSum;
}

class NcclCommunicator final : public DeviceCommunicator {
 public:
  NcclCommunicator(int size, int index, ncclComm_t base, std::map<std::int32_t, ncclComm_t> tagged, std::string d)
      : size_(size), index_(index), base_(base), tagged_(std::move(tagged)), description_(std::move(d)) {}
  ~NcclCommunicator() override {
    for (auto& [tag, c] : tagged_) ncclCommDestroy(c);
    ncclCommDestroy(base_);
  }
  int size() const override { return size_; }
  int index() const override { return index_; }
  std::string describe() const override { return description_; }

  void all_reduce(void* buf, std::int64_t count, DType d, ReduceKind op, DeviceStream s) override {
    NCCL_CHECK(ncclAllReduce(buf, buf, nccl_count(count, d, true), nccl_type(d, true, description_), nccl_op(op), base_,
                             s));
  }
  void reduce_scatter(const void* in, void* out, std::int64_t n, DType d, ReduceKind op, DeviceStream s) override {
    NCCL_CHECK(ncclReduceScatter(in, out, nccl_count(n, d, true), nccl_type(d, true, description_), nccl_op(op), base_,
                                 s));
  }
  void all_gather(const void* in, void* out, std::int64_t n, DType d, DeviceStream s) override {
    NCCL_CHECK(ncclAllGather(in, out, nccl_count(n, d, false), nccl_type(d, false, description_), base_, s));
  }
  void broadcast(void* buf, std::int64_t count, DType d, int root, DeviceStream s) override {
    NCCL_CHECK(ncclBroadcast(buf, buf, nccl_count(count, d, false), nccl_type(d, false, description_), root, base_, s));
  }
  void reduce(void* buf, std::int64_t count, DType d, ReduceKind op, int root, DeviceStream s) override {
    NCCL_CHECK(
        ncclReduce(buf, buf, nccl_count(count, d, true), nccl_type(d, true, description_), nccl_op(op), root, base_, s));
  }
  void all_to_all(const void* in, void* out, std::int64_t n, DType d, DeviceStream s) override {
    const std::size_t bytes = static_cast<std::size_t>(n * dtype_bytes(d));
    NCCL_CHECK(ncclGroupStart());
    for (int peer = 0; peer < size_; ++peer) {
      NCCL_CHECK(ncclSend(static_cast<const char*>(in) + peer * bytes, bytes, ncclUint8, peer, base_, s));
      NCCL_CHECK(ncclRecv(static_cast<char*>(out) + peer * bytes, bytes, ncclUint8, peer, base_, s));
    }
    NCCL_CHECK(ncclGroupEnd());
  }
  void send(const void* buf, std::int64_t bytes, int peer, int tag, DeviceStream s) override {
    NCCL_CHECK(ncclSend(buf, static_cast<std::size_t>(bytes), ncclUint8, peer, comm_for(tag), s));
  }
  void recv(void* buf, std::int64_t bytes, int peer, int tag, DeviceStream s) override {
    NCCL_CHECK(ncclRecv(buf, static_cast<std::size_t>(bytes), ncclUint8, peer, comm_for(tag), s));
  }

 private:
  ncclComm_t comm_for(int tag) const {
    auto it = tagged_.find(tag);
    if (it == tagged_.end())
      throw InternalError("internal error: " + description_ + " has no communicator for p2p tag " +
                          std::to_string(tag));
    return it->second;
  }
  int size_, index_;
  ncclComm_t base_;
  std::map<std::int32_t, ncclComm_t> tagged_;
  std::string description_;
};

// One member: collectives are copies or nothing; p2p to itself through a queue of device copies.
class SelfDeviceCommunicator final : public DeviceCommunicator {
 public:
  explicit SelfDeviceCommunicator(std::string d) : description_(std::move(d)) {}
  ~SelfDeviceCommunicator() override {
    for (auto& [tag, queue] : queues_)
      for (auto& m : queue) {
        cudaFree(m.data);
        cudaEventDestroy(m.ready);
      }
  }
  int size() const override { return 1; }
  int index() const override { return 0; }
  std::string describe() const override { return description_; }
  void all_reduce(void*, std::int64_t, DType, ReduceKind, DeviceStream) override {}
  void reduce_scatter(const void* in, void* out, std::int64_t n, DType d, ReduceKind, DeviceStream s) override {
    copy(out, in, n * dtype_bytes(d), s);
  }
  void all_gather(const void* in, void* out, std::int64_t n, DType d, DeviceStream s) override {
    copy(out, in, n * dtype_bytes(d), s);
  }
  void broadcast(void*, std::int64_t, DType, int, DeviceStream) override {}
  void reduce(void*, std::int64_t, DType, ReduceKind, int, DeviceStream) override {}
  void all_to_all(const void* in, void* out, std::int64_t n, DType d, DeviceStream s) override {
    copy(out, in, n * dtype_bytes(d), s);
  }
  void send(const void* buf, std::int64_t bytes, int, int tag, DeviceStream s) override {
    Message m;
    m.bytes = bytes;
    CUDA_CHECK(cudaMallocAsync(&m.data, static_cast<std::size_t>(std::max<std::int64_t>(bytes, 1)), s));
    copy(m.data, buf, bytes, s);
    CUDA_CHECK(cudaEventCreateWithFlags(&m.ready, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventRecord(m.ready, s));
    queues_[tag].push_back(m);
  }
  void recv(void* buf, std::int64_t bytes, int, int tag, DeviceStream s) override {
    auto& q = queues_[tag];
    if (q.empty())
      throw InternalError("internal error: " + description_ + ": a receive from itself with tag " +
                          std::to_string(tag) + " before the matching send");
    Message m = q.front();
    q.pop_front();
    if (m.bytes != bytes)
      throw InternalError("internal error: self recv of " + std::to_string(bytes) + " bytes matched a send of " +
                          std::to_string(m.bytes));
    CUDA_CHECK(cudaStreamWaitEvent(s, m.ready, 0));
    copy(buf, m.data, bytes, s);
    CUDA_CHECK(cudaFreeAsync(m.data, s));
    CUDA_CHECK(cudaEventDestroy(m.ready));
  }

 private:
  struct Message {
    void* data = nullptr;
    std::int64_t bytes = 0;
    cudaEvent_t ready = nullptr;
  };
  static void copy(void* dst, const void* src, std::int64_t bytes, DeviceStream s) {
    if (dst == src || bytes <= 0) return;
    CUDA_CHECK(cudaMemcpyAsync(dst, src, static_cast<std::size_t>(bytes), cudaMemcpyDeviceToDevice, s));
  }
  std::string description_;
  std::map<std::int32_t, std::deque<Message>> queues_;
};

}  // namespace

void group_start() {
  NCCL_CHECK(ncclGroupStart());
}

void group_end() {
  NCCL_CHECK(ncclGroupEnd());
}

std::unique_ptr<DeviceCommunicator> make_device_communicator(Communicator& mpi, int size, int index,
                                                             const std::vector<std::int32_t>& tags,
                                                             std::string description) {
  if (size <= 1) return std::make_unique<SelfDeviceCommunicator>(std::move(description));
  ncclUniqueId id;
  std::memset(&id, 0, sizeof id);
  if (index == 0) NCCL_CHECK(ncclGetUniqueId(&id));
  mpi.broadcast(&id, static_cast<std::int64_t>(sizeof id), DType::uint8, 0);
  ncclComm_t base = nullptr;
  NCCL_CHECK(ncclCommInitRank(&base, size, id, index));
  std::map<std::int32_t, ncclComm_t> tagged;
  for (std::int32_t tag : tags) {
    ncclComm_t c = nullptr;
    NCCL_CHECK(ncclCommSplit(base, 0, index, &c, nullptr));
    tagged[tag] = c;
  }
  return std::make_unique<NcclCommunicator>(size, index, base, std::move(tagged), std::move(description));
}

std::string nccl_version() {
  int v = 0;
  if (ncclGetVersion(&v) != ncclSuccess) return "";
  return std::to_string(v / 10000) + "." + std::to_string((v / 100) % 100) + "." + std::to_string(v % 100);
}

}  // namespace clustersim::executor::cuda::detail
