// The CUDA plan interpreter (cuda/worker.hpp): device selection, stream-ordered device memory and
// scratch, communicators, tensor initialisation on the device, the enqueueing of a step in the
// schedule of stream_plan.hpp with CUDA events for deps and timing, NVTX ranges, loss scaling and the
// step records. The rank-level conventions (dropout identities, vocabulary discovery, leftover
// release, record fields) are the CPU worker's, so both backends measure the same things.
#include "clustersim/executor/cuda/worker.hpp"

#include <cuda_runtime.h>
#include <nvtx3/nvToolsExt.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <tuple>

#include "check.hpp"
#include "clustersim/executor/cpu/cast.hpp"
#include "clustersim/executor/cuda/elementwise.hpp"
#include "clustersim/executor/cuda/errors.hpp"
#include "clustersim/executor/cuda/gemm.hpp"
#include "clustersim/executor/cuda/loss_scaler.hpp"
#include "clustersim/executor/cuda/stream_plan.hpp"
#include "clustersim/executor/rng.hpp"
#include "clustersim/plan/error.hpp"
#include "clustersim/plan/hazards.hpp"
#include "device_info.hpp"
#include "dispatch.hpp"
#include "nccl_comm.hpp"
#include "runtime/run_dir.hpp"

namespace clustersim::executor::cuda {

using plan::OpId;
using plan::TensorId;

namespace {

constexpr std::uint64_t kDropoutSalt = 0xD50;  // the CPU worker's salt: same dropout keys

bool is_comm(OpKind k) {
  return k == OpKind::collective || k == OpKind::send || k == OpKind::recv;
}

std::string comm_type(const plan::Op& op) {
  if (op.kind == OpKind::send) return "send";
  if (op.kind == OpKind::recv) return "recv";
  return std::string(to_string(std::get<plan::CollectiveParams>(op.params).type));
}

GroupKind comm_group(const plan::Op& op) {
  if (op.kind == OpKind::collective) return std::get<plan::CollectiveParams>(op.params).group;
  return std::get<plan::P2PParams>(op.params).group;
}

std::vector<plan::MemorySample> downsample(std::vector<plan::MemorySample> s, std::int32_t max) {
  if (max <= 0 || static_cast<std::int32_t>(s.size()) <= max) return s;
  const auto peak = std::max_element(s.begin(), s.end(), [](auto& a, auto& b) { return a.bytes < b.bytes; });
  const plan::MemorySample top = *peak;
  std::vector<plan::MemorySample> out;
  const double stride = static_cast<double>(s.size()) / static_cast<double>(max - 1);
  for (std::int32_t i = 0; i < max - 1; ++i) out.push_back(s[static_cast<std::size_t>(i * stride)]);
  out.push_back(s.back());
  out.push_back(top);
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.t_ns < b.t_ns; });
  return out;
}

int pick_device(int world_rank) {
  int count = 0;
  CUDA_CHECK(cudaGetDeviceCount(&count));
  if (const char* env = std::getenv("CLUSTERSIM_CUDA_DEVICE"); env != nullptr && *env != '\0') {
    char* end = nullptr;
    const long d = std::strtol(env, &end, 10);
    if (*end != '\0' || d < 0 || d >= count)
      throw InputError("CLUSTERSIM_CUDA_DEVICE", env, "a device index below " + std::to_string(count));
    return static_cast<int>(d);
  }
  int local = world_rank;
  for (const char* var : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID", "LOCAL_RANK"})
    if (const char* v = std::getenv(var); v != nullptr && *v != '\0') {
      local = std::atoi(v);
      break;
    }
  return count > 0 ? local % count : 0;
}

// Tensor memory from the device's stream-ordered pool, kept cached across steps.
class PoolMemory final : public DeviceMemory {
 public:
  explicit PoolMemory(int device) {
    CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool_, device));
    std::uint64_t threshold = std::numeric_limits<std::uint64_t>::max();
    CUDA_CHECK(cudaMemPoolSetAttribute(pool_, cudaMemPoolAttrReleaseThreshold, &threshold));
    std::uint64_t zero = 0;
    CUDA_CHECK(cudaMemPoolSetAttribute(pool_, cudaMemPoolAttrUsedMemHigh, &zero));
    CUDA_CHECK(cudaMemPoolSetAttribute(pool_, cudaMemPoolAttrReservedMemHigh, &zero));
  }
  void* allocate(std::int64_t bytes, DeviceStream stream) override {
    void* p = nullptr;
    const cudaError_t e = cudaMallocAsync(&p, static_cast<std::size_t>(bytes), stream);
    if (e == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      return nullptr;
    }
    CUDA_CHECK(e);
    return p;
  }
  void release(void* p, DeviceStream stream) override {
    const cudaError_t e = cudaFreeAsync(p, stream);
    if (e != cudaSuccess && stream != nullptr) CUDA_CHECK(e);  // teardown (null stream) never throws
  }
  void zero(void* p, std::int64_t bytes, DeviceStream stream) override {
    CUDA_CHECK(cudaMemsetAsync(p, 0, static_cast<std::size_t>(bytes), stream));
  }
  Info info() const override {
    std::size_t free_b = 0, total_b = 0;
    if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) (void)cudaGetLastError();
    return {static_cast<std::int64_t>(free_b), static_cast<std::int64_t>(total_b)};
  }
  std::int64_t attribute(cudaMemPoolAttr a) const {
    std::uint64_t v = 0;
    if (cudaMemPoolGetAttribute(pool_, a, &v) != cudaSuccess) (void)cudaGetLastError();
    return static_cast<std::int64_t>(v);
  }

 private:
  cudaMemPool_t pool_ = nullptr;
};

struct ScratchTotals {
  std::int64_t current = 0, peak = 0;
};

// Per-stream scratch that grows in stream order (the old buffer is freed on the same stream).
class StreamScratch final : public DeviceScratch {
 public:
  StreamScratch(cudaStream_t stream, ScratchTotals& totals, std::function<void(std::size_t)> on_oom)
      : stream_(stream), totals_(totals), on_oom_(std::move(on_oom)) {}
  ~StreamScratch() override {
    if (data_ != nullptr) (void)cudaFreeAsync(data_, stream_);
  }
  void* get(std::size_t bytes) override {
    if (bytes <= capacity_ && data_ != nullptr) return data_;
    std::size_t want = std::max(bytes, capacity_ + capacity_ / 2);
    want = std::max<std::size_t>((want + (1u << 20) - 1) / (1u << 20) * (1u << 20), 1u << 20);
    if (data_ != nullptr) CUDA_CHECK(cudaFreeAsync(data_, stream_));
    totals_.current -= static_cast<std::int64_t>(capacity_);
    data_ = nullptr;
    capacity_ = 0;
    cudaError_t e = cudaMallocAsync(&data_, want, stream_);
    if (e == cudaErrorMemoryAllocation) {  // retry with exactly what is needed
      (void)cudaGetLastError();
      want = std::max<std::size_t>(bytes, 256);
      e = cudaMallocAsync(&data_, want, stream_);
    }
    if (e == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      on_oom_(bytes);
    }
    CUDA_CHECK(e);
    capacity_ = want;
    totals_.current += static_cast<std::int64_t>(want);
    totals_.peak = std::max(totals_.peak, totals_.current);
    return data_;
  }

 private:
  cudaStream_t stream_;
  ScratchTotals& totals_;
  std::function<void(std::size_t)> on_oom_;
  void* data_ = nullptr;
  std::size_t capacity_ = 0;
};

class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(std::size_t bytes) : bytes_(bytes) { CUDA_CHECK(cudaMallocHost(&data_, std::max<std::size_t>(bytes, 1))); }
  ~PinnedBuffer() {
    if (data_ != nullptr) (void)cudaFreeHost(data_);
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
};

// Every p2p tag the plan uses per group kind, the same list on every rank.
std::array<std::vector<std::int32_t>, kGroupKindCount> p2p_tags(const plan::Plan& p) {
  std::array<std::vector<std::int32_t>, kGroupKindCount> tags;
  for (const auto& prog : p.programs)
    for (const auto& op : prog.ops)
      if (op.kind == OpKind::send || op.kind == OpKind::recv) {
        const auto& pp = std::get<plan::P2PParams>(op.params);
        tags[static_cast<std::size_t>(pp.group)].push_back(pp.tag);
      }
  for (auto& t : tags) {
    std::sort(t.begin(), t.end());
    t.erase(std::unique(t.begin(), t.end()), t.end());
  }
  return tags;
}

}  // namespace

struct CudaWorker::Impl final : detail::CudaRank {
  // --- fixed for the run ---
  const plan::Plan& plan_;
  RunOptions options_;
  CommunicatorFactory& comms_;
  std::int32_t rank_ = 0, program_id_ = 0;
  const plan::Program* prog_ = nullptr;
  plan::RankGroups groups_;
  int device_ = 0;
  std::array<std::unique_ptr<Communicator>, kGroupKindCount> mpi_comm_;
  std::array<std::unique_ptr<detail::DeviceCommunicator>, kGroupKindCount> comm_;
  std::vector<cudaStream_t> streams_;
  std::unique_ptr<PoolMemory> memory_;
  std::unique_ptr<DeviceAllocator> alloc_;
  ScratchTotals scratch_totals_;
  std::vector<std::unique_ptr<StreamScratch>> scratch_, staging_;
  std::unique_ptr<GemmEngine> gemm_;
  StreamSchedule schedule_;
  std::vector<detail::CudaKernelFn> kernels_;
  std::vector<std::uint64_t> dropout_identity_;
  std::vector<std::vector<TensorId>> views_of_;
  std::vector<TensorId> step_allocated_;
  std::vector<cudaEvent_t> start_evt_, end_evt_;
  cudaEvent_t origin_ = nullptr;
  LossStats* stats_dev_ = nullptr;
  LossStats* stats_host_ = nullptr;
  std::int64_t* counters_dev_ = nullptr;
  std::map<std::pair<OpId, std::size_t>, std::unique_ptr<PinnedBuffer>> staging_host_;
  std::uint64_t seed_ = 1;
  std::shared_ptr<const DataSource> data_;
  std::int64_t vocab_ = 0, classes_ = 0, num_mb_ = 1;
  std::chrono::steady_clock::time_point t0_;
  std::unique_ptr<executor::detail::RunDirWriter> writer_;
  std::string current_where_;

  // --- training state ---
  DynamicLossScaler scaler_;
  std::vector<std::int64_t> host_opt_steps_;
  std::int32_t step_ = 0;
  bool reported_leaks_ = false;
  RankRecord record_;

  Impl(const plan::Plan& plan, CommunicatorFactory& comms, RunOptions options)
      : plan_(plan),
        options_(std::move(options)),
        comms_(comms),
        groups_(plan),
        scaler_(LossScalerConfig::from_plan(plan.meta)) {}

  ~Impl() {
    if (!streams_.empty()) (void)cudaDeviceSynchronize();
    staging_host_.clear();
    scratch_.clear();
    staging_.clear();
    gemm_.reset();
    alloc_.reset();
    for (cudaEvent_t e : start_evt_) (void)cudaEventDestroy(e);
    for (cudaEvent_t e : end_evt_) (void)cudaEventDestroy(e);
    if (origin_ != nullptr) (void)cudaEventDestroy(origin_);
    if (stats_dev_ != nullptr) (void)cudaFree(stats_dev_);
    if (stats_host_ != nullptr) (void)cudaFreeHost(stats_host_);
    if (counters_dev_ != nullptr) (void)cudaFree(counters_dev_);
    for (auto& c : comm_) c.reset();
    for (cudaStream_t s : streams_) (void)cudaStreamDestroy(s);
  }

  std::int64_t now_ns() const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0_).count();
  }
  void log(const std::string& s) const {
    if (options_.log) options_.log(s);
  }
  const plan::Tensor& tensor(TensorId id) const { return plan_.tensors.at(static_cast<std::size_t>(id)); }
  std::string where(const plan::Op& op) const {
    return "rank " + std::to_string(rank_) + ", program " + std::to_string(program_id_) + " op " +
           std::to_string(op.id) + " (" + op.name + ")";
  }

  // ---------------------------------------------------------------------------------------------
  void setup() {
    plan::validate(plan_);
    rank_ = comms_.world_rank();
    if (comms_.world_size() != plan_.world_size)
      throw InputError("plan.world_size", std::to_string(plan_.world_size),
                       "the number of ranks launched (" + std::to_string(comms_.world_size()) + ")");
    program_id_ = plan_.program_of_rank.at(static_cast<std::size_t>(rank_));
    prog_ = &plan_.programs.at(static_cast<std::size_t>(program_id_));
    if (!options_.run_dir.empty()) {
      writer_ = std::make_unique<executor::detail::RunDirWriter>(options_.run_dir, rank_, options_.record_fatal_signals);
      writer_->begin(program_id_, plan_.world_size);
    }
    record_.rank = rank_;
    record_.program = program_id_;
    record_.world_size = plan_.world_size;
    record_.host = executor::detail::host_name();
    record_.pid = static_cast<std::int64_t>(::getpid());
    try {
      setup_rest();
    } catch (const std::exception& e) {
      if (writer_) writer_->error(e.what());
      throw;
    }
  }

  void setup_rest() {
    device_ = pick_device(rank_);
    CUDA_CHECK(cudaSetDevice(device_));
    // plan checks before any device work
    const std::size_t n_ops = prog_->ops.size();
    kernels_.resize(n_ops);
    for (const auto& op : prog_->ops)
      kernels_[static_cast<std::size_t>(op.id)] = detail::CudaKernelRegistry::get().find(op, where(op));
    if (options_.threading == StreamThreading::thread_per_stream) {
      const auto hazards = plan::find_stream_hazards(plan_, groups_, rank_, program_id_);
      if (!hazards.empty()) {
        std::string msg = "internal error: the plan's program " + std::to_string(program_id_) + " (" + prog_->name +
                          ") races when its streams run concurrently on rank " + std::to_string(rank_) + ": ";
        for (std::size_t i = 0; i < hazards.size(); ++i) msg += (i ? "; " : "") + hazards[i];
        throw InternalError(msg + " (a missing dep in the plan; StreamThreading::sequential runs it in program order)");
      }
    }
    schedule_ = schedule_streams(*prog_);

    int low = 0, high = 0;
    CUDA_CHECK(cudaDeviceGetStreamPriorityRange(&low, &high));
    std::size_t n_streams = prog_->streams.size();
    for (const auto& op : prog_->ops) n_streams = std::max(n_streams, static_cast<std::size_t>(op.stream) + 1);
    streams_.resize(n_streams, nullptr);
    for (std::size_t s = 0; s < n_streams; ++s) {
      const bool comm = s < prog_->streams.size() && prog_->streams[s].kind == StreamKind::comm;
      CUDA_CHECK(cudaStreamCreateWithPriority(&streams_[s], cudaStreamNonBlocking, comm ? high : low));
    }

    const auto tags = p2p_tags(plan_);
    for (int k = 0; k < kGroupKindCount; ++k) {
      const auto kind = static_cast<GroupKind>(k);
      const std::int32_t gid = groups_.group_of(rank_, kind);
      const plan::Group* g = gid == plan::kNone ? nullptr : &plan_.groups.at(static_cast<std::size_t>(gid));
      const int index = groups_.index_in_group(rank_, kind);
      mpi_comm_[static_cast<std::size_t>(k)] = comms_.create(kind, g, index);
      const int size = g != nullptr ? static_cast<int>(g->ranks.size()) : 1;
      comm_[static_cast<std::size_t>(k)] = detail::make_device_communicator(
          *mpi_comm_[static_cast<std::size_t>(k)], size, index, tags[static_cast<std::size_t>(k)],
          std::string(to_string(kind)) + " group " + std::to_string(gid) + " (index " + std::to_string(index) + " of " +
              std::to_string(size) + ")");
    }

    memory_ = std::make_unique<PoolMemory>(device_);
    alloc_ = std::make_unique<DeviceAllocator>(*memory_);
    for (cudaStream_t s : streams_) {
      auto oom = [this](std::size_t bytes) { throw_scratch_oom(bytes); };
      scratch_.push_back(std::make_unique<StreamScratch>(s, scratch_totals_, oom));
      staging_.push_back(std::make_unique<StreamScratch>(s, scratch_totals_, oom));
    }
    gemm_ = std::make_unique<GemmEngine>();

    seed_ = static_cast<std::uint64_t>(options_.seed.value_or(plan_.meta.seed));
    data_ = options_.data ? options_.data : make_synthetic_data(seed_);
    num_mb_ = std::max<std::int64_t>(1, plan_.meta.num_microbatches);
    find_vocab();
    assign_dropout_identities();
    views_of_.assign(plan_.tensors.size(), {});
    for (const auto& t : plan_.tensors)
      if (t.view_of != plan::kNone) views_of_[static_cast<std::size_t>(t.view_of)].push_back(t.id);
    for (const auto& op : prog_->ops) step_allocated_.insert(step_allocated_.end(), op.allocs.begin(), op.allocs.end());
    std::sort(step_allocated_.begin(), step_allocated_.end());
    step_allocated_.erase(std::unique(step_allocated_.begin(), step_allocated_.end()), step_allocated_.end());

    start_evt_.assign(n_ops, nullptr);
    end_evt_.assign(n_ops, nullptr);
    for (std::size_t i = 0; i < n_ops; ++i) {
      CUDA_CHECK(cudaEventCreate(&start_evt_[i]));
      CUDA_CHECK(cudaEventCreate(&end_evt_[i]));
    }
    CUDA_CHECK(cudaEventCreate(&origin_));
    CUDA_CHECK(cudaMalloc(&stats_dev_, sizeof(LossStats)));
    CUDA_CHECK(cudaMallocHost(&stats_host_, sizeof(LossStats)));
    CUDA_CHECK(cudaMalloc(&counters_dev_, std::max<std::size_t>(n_ops, 1) * sizeof(std::int64_t)));
    CUDA_CHECK(cudaMemset(counters_dev_, 0, std::max<std::size_t>(n_ops, 1) * sizeof(std::int64_t)));
    host_opt_steps_.assign(n_ops, 0);

    comms_.world().barrier();  // align the clocks of all ranks
    t0_ = std::chrono::steady_clock::now();
    cudaStream_t s0 = streams_.at(0);
    for (TensorId t : prog_->persistent) allocate(t, s0, LedgerAnchor::at(now_ns()), "persistent tensors");
    for (TensorId t : prog_->persistent) apply_inits(t, false, s0);
    for (TensorId t : prog_->persistent) apply_inits(t, true, s0);
    CUDA_CHECK(cudaStreamSynchronize(s0));
    alloc_->settle([](std::int32_t, bool) { return std::int64_t{-1}; });
    alloc_->take_samples();
    std::int64_t persistent = 0;
    for (TensorId t : prog_->persistent) persistent += tensor(t).bytes;
    record_.persistent_bytes = persistent;
  }

  [[noreturn]] void throw_scratch_oom(std::size_t bytes) {
    const DeviceMemory::Info info = memory_->info();
    throw CheckFailed(out_of_memory_message(current_where_, static_cast<std::int64_t>(bytes), "scratch", "workspace",
                                            alloc_->live_bytes(), scratch_totals_.current, info.free_bytes,
                                            info.total_bytes));
  }

  void find_vocab() {
    const std::int64_t tp = std::max<std::int32_t>(1, plan_.meta.tp);
    for (const auto& prog : plan_.programs)
      for (const auto& op : prog.ops) {
        if (op.kind == OpKind::embedding && vocab_ == 0) {
          const auto& p = std::get<plan::EmbeddingParams>(op.params);
          vocab_ = p.vocab_parallel ? p.vocab * tp : p.vocab;
        }
        if (op.kind == OpKind::softmax_xent && classes_ == 0)
          classes_ = std::get<plan::SoftmaxXentParams>(op.params).vocab;
        if (op.kind == OpKind::elementwise && classes_ == 0 &&
            std::get<plan::ElementwiseParams>(op.params).name == "xent_parallel_max" && !op.inputs.empty() &&
            !op.outputs.empty()) {
          const std::int64_t rows = tensor(op.outputs[0]).bytes / 4;
          classes_ = rows > 0 ? tensor(op.inputs[0]).bytes / dtype_bytes(tensor(op.inputs[0]).dtype) / rows * tp : 0;
        }
      }
    if (vocab_ == 0) vocab_ = classes_;
    if (classes_ == 0) classes_ = vocab_ > 0 ? vocab_ : 10;
    if (data_->min_vocab() > 0 && vocab_ > 0 && vocab_ < data_->min_vocab())
      throw InputError("data", "a model vocabulary of " + std::to_string(vocab_),
                       "at least " + std::to_string(data_->min_vocab()) + " for " + data_->describe());
  }

  // The CPU worker's rule (worker.cpp): the k-th dropout-drawing op of a kind with the same (layer,
  // microbatch, stage, chunk) in the forward pass, the k-th in the recompute pass and the k-th from
  // the end backward share an identity.
  void assign_dropout_identities() {
    using Key = std::tuple<int, int, int, int, int, int>;
    std::map<Key, std::vector<OpId>> lists;
    auto class_of = [](const plan::Op& op) {
      if (op.tags.phase == Phase::recompute) return 1;
      if (op.kind == OpKind::attention && std::get<plan::AttentionParams>(op.params).direction == Direction::backward)
        return 2;
      return 0;
    };
    for (const auto& op : prog_->ops) {
      const bool draws =
          (op.kind == OpKind::attention && std::get<plan::AttentionParams>(op.params).dropout > 0.0) ||
          (op.kind == OpKind::elementwise && std::get<plan::ElementwiseParams>(op.params).name == "dropout");
      if (!draws) continue;
      lists[{static_cast<int>(op.kind), op.tags.layer, op.tags.microbatch, op.tags.stage, op.tags.chunk, class_of(op)}]
          .push_back(op.id);
    }
    dropout_identity_.assign(prog_->ops.size(), 0);
    for (const auto& [key, ids] : lists) {
      for (std::size_t k = 0; k < ids.size(); ++k) {
        const std::size_t ordinal = std::get<5>(key) == 2 ? ids.size() - 1 - k : k;
        dropout_identity_[static_cast<std::size_t>(ids[k])] = derive_key(
            static_cast<std::uint64_t>(std::get<0>(key)), static_cast<std::uint64_t>(std::get<1>(key) + 1),
            static_cast<std::uint64_t>(std::get<2>(key) + 1), static_cast<std::uint64_t>(std::get<3>(key) + 1),
            static_cast<std::uint64_t>(std::get<4>(key) + 1), static_cast<std::uint64_t>(ordinal));
      }
    }
  }

  // --- storage and initialisation ----------------------------------------------------------------
  std::int64_t view_offset(const plan::Tensor& t) const {
    std::int64_t off = t.offset_bytes;
    if (t.shard_group) off += static_cast<std::int64_t>(groups_.index_in_group(rank_, *t.shard_group)) * t.bytes;
    const plan::Tensor& base = tensor(t.view_of);
    require(off >= 0 && off + t.bytes <= base.bytes, "view " + t.name + " at offset " + std::to_string(off) +
                                                         " runs past its base " + base.name + " on rank " +
                                                         std::to_string(rank_));
    return off;
  }

  std::byte* storage(TensorId id) const override {
    const plan::Tensor& t = tensor(id);
    const TensorId base = t.view_of == plan::kNone ? id : t.view_of;
    std::byte* p = alloc_->data(base);
    if (p == nullptr)
      throw InternalError("internal error: rank " + std::to_string(rank_) + " uses tensor " + t.name +
                          " whose storage is not allocated (is a dep on the op that allocates it missing?)");
    return t.view_of == plan::kNone ? p : p + view_offset(t);
  }

  void allocate(TensorId id, cudaStream_t s, LedgerAnchor when, const std::string& where) {
    const plan::Tensor& t = tensor(id);
    alloc_->set_other_bytes(scratch_totals_.current);
    alloc_->allocate(id, t.bytes, t.role, s, when, where, t.name);
  }

  void fill_value_init(std::byte* dst, const plan::Tensor& t, cudaStream_t s) const {
    const auto& in = t.init;
    const std::int64_t n = t.bytes / dtype_bytes(t.dtype);
    switch (in.kind) {
      case plan::TensorInit::Kind::none:
      case plan::TensorInit::Kind::copy:
        return;
      case plan::TensorInit::Kind::zeros:
        CUDA_CHECK(cudaMemsetAsync(dst, 0, static_cast<std::size_t>(t.bytes), s));
        return;
      case plan::TensorInit::Kind::ones:
        fill({dst, t.dtype}, n, 1.0, s);
        return;
      case plan::TensorInit::Kind::normal:
        break;
    }
    if (!cpu::is_float_dtype(t.dtype))
      throw InputError("tensors[" + std::to_string(t.id) + "] (" + t.name + ").init", "\"normal\"", "a float tensor");
    std::vector<std::int64_t> local = t.shape.empty() ? std::vector<std::int64_t>{n} : t.shape;
    std::vector<std::int64_t> full = in.full_shape.empty() ? local : in.full_shape;
    NormalInit ni;
    ni.key = derive_key(seed_, static_cast<std::uint64_t>(in.seed_key));
    ni.std = in.std;
    ni.outer = 1, ni.inner = 1, ni.mid = n, ni.full_mid = n, ni.shard = 0;
    const int d = in.shard_dim;
    if (d >= 0) {
      if (full.size() != local.size() || d >= static_cast<int>(local.size()))
        throw InputError("tensors[" + std::to_string(t.id) + "] (" + t.name + ").init.full_shape", "rank mismatch",
                         "the tensor's rank with shard_dim inside it");
      ni.outer = 1, ni.inner = 1;
      for (int k = 0; k < d; ++k) ni.outer *= local[static_cast<std::size_t>(k)];
      for (std::size_t k = static_cast<std::size_t>(d) + 1; k < local.size(); ++k) ni.inner *= local[k];
      ni.mid = local[static_cast<std::size_t>(d)];
      ni.full_mid = full[static_cast<std::size_t>(d)];
      ni.shard = groups_.index_in_group(rank_, in.shard_group);
      if (ni.outer * ni.mid * ni.inner != n)
        throw InputError("tensors[" + std::to_string(t.id) + "] (" + t.name + ").shape", "a shape of other size",
                         "a shape whose product is the tensor's elements");
    }
    normal_init({dst, t.dtype}, ni, s);
  }

  void apply_inits_into(std::byte* data, TensorId base, bool copies, cudaStream_t s, int depth = 0) {
    auto one = [&](const plan::Tensor& t, std::byte* dst) {
      if ((t.init.kind == plan::TensorInit::Kind::copy) != copies) return;
      if (copies)
        copy_init(dst, t, depth, s);
      else
        fill_value_init(dst, t, s);
    };
    one(tensor(base), data);
    for (TensorId v : views_of_[static_cast<std::size_t>(base)]) one(tensor(v), data + view_offset(tensor(v)));
  }

  void apply_inits(TensorId base, bool copies, cudaStream_t s) { apply_inits_into(alloc_->data(base), base, copies, s); }

  void copy_init(std::byte* dst, const plan::Tensor& t, int depth, cudaStream_t s) {
    const std::int32_t src_id = t.init.source;
    const std::string path = "tensors[" + std::to_string(t.id) + "] (" + t.name + ").init.source";
    if (src_id < 0 || src_id >= static_cast<std::int32_t>(plan_.tensors.size()))
      throw InputError(path, std::to_string(src_id), "a tensor id");
    if (depth > 8) throw InputError(path, std::to_string(src_id), "a copy chain shorter than 8");
    const plan::Tensor& src = tensor(src_id);
    const TensorId src_base = src.view_of == plan::kNone ? src_id : src.view_of;
    const std::int64_t n = t.bytes / dtype_bytes(t.dtype);
    if (src.bytes / dtype_bytes(src.dtype) < n)
      throw InputError(path, src.name + " (" + std::to_string(src.bytes) + " bytes)",
                       "a source with at least as many elements");
    if (alloc_->live(src_base)) {
      convert({dst, t.dtype}, {storage(src_id), src.dtype}, n, s);
      return;
    }
    // an init-only tensor: materialise it (with its views' inits) for the copy
    const std::int64_t bytes = tensor(src_base).bytes;
    void* temp = memory_->allocate(std::max<std::int64_t>(bytes, 256), s);
    if (temp == nullptr) {
      const DeviceMemory::Info info = memory_->info();
      throw CheckFailed(out_of_memory_message("rank " + std::to_string(rank_) + " initialising " + t.name, bytes,
                                              tensor(src_base).name, "init source", alloc_->live_bytes(),
                                              scratch_totals_.current, info.free_bytes, info.total_bytes));
    }
    memory_->zero(temp, bytes, s);
    auto* base = static_cast<std::byte*>(temp);
    apply_inits_into(base, src_base, false, s, depth + 1);
    apply_inits_into(base, src_base, true, s, depth + 1);
    convert({dst, t.dtype}, {base + (src.view_of == plan::kNone ? 0 : view_offset(src)), src.dtype}, n, s);
    memory_->release(temp, s);
  }

  // --- services for the dispatchers ---------------------------------------------------------------
  const plan::Plan& plan() const override { return plan_; }
  std::int32_t rank() const override { return rank_; }
  std::int32_t program() const override { return program_id_; }
  std::int32_t step() const override { return step_; }
  std::int32_t group_index(GroupKind k) const override { return comm_[static_cast<std::size_t>(k)]->index(); }
  std::int32_t group_size(GroupKind k) const override { return comm_[static_cast<std::size_t>(k)]->size(); }
  detail::DeviceCommunicator& comm(GroupKind k) override { return *comm_[static_cast<std::size_t>(k)]; }
  double loss_scale() const override { return scaler_.scale(); }
  LossStats* device_stats() override { return stats_dev_; }
  std::int64_t* optimizer_counter(OpId op) override { return counters_dev_ + op; }
  std::int64_t next_host_optimizer_step(OpId op) override { return ++host_opt_steps_[static_cast<std::size_t>(op)]; }
  std::uint64_t dropout_key(const plan::Op& op) const override {
    return derive_key(seed_, kDropoutSalt, static_cast<std::uint64_t>(step_),
                      static_cast<std::uint64_t>(group_index(GroupKind::dp)),
                      dropout_identity_[static_cast<std::size_t>(op.id)]);
  }
  const DataSource& data() const override { return *data_; }
  std::int64_t vocab() const override { return vocab_; }
  std::int64_t classes() const override { return classes_; }
  std::int64_t num_microbatches() const override { return num_mb_; }
  GemmEngine& gemm() override { return *gemm_; }
  void* host_staging(OpId op, std::size_t slot, std::size_t bytes) override {
    auto& buf = staging_host_[{op, slot}];
    if (!buf || buf->bytes() < bytes) buf = std::make_unique<PinnedBuffer>(bytes);
    return buf->data();
  }

  // --- enqueueing a step ---------------------------------------------------------------------------
  void enqueue_single(const plan::Op& op, cudaStream_t s) {
    for (TensorId t : op.allocs) {
      allocate(t, s, LedgerAnchor::op_start(op.id), current_where_);
      apply_inits(t, false, s);
    }
    for (TensorId t : op.allocs) apply_inits(t, true, s);
  }

  void enqueue(OpId id) {
    const std::int32_t run = schedule_.p2p_run[static_cast<std::size_t>(id)];
    std::vector<OpId> members = {id};
    if (run >= 0) {
      const auto& ops = schedule_.p2p_runs[static_cast<std::size_t>(run)];
      if (ops.front() != id) return;  // enqueued with the run's first op
      members = ops;
    }
    const plan::Op& first = prog_->ops[static_cast<std::size_t>(id)];
    cudaStream_t s = streams_.at(static_cast<std::size_t>(first.stream));
    current_where_ = where(first);
    try {
      for (OpId m : members)
        for (OpId d : schedule_.waits[static_cast<std::size_t>(m)])
          CUDA_CHECK(cudaStreamWaitEvent(s, end_evt_[static_cast<std::size_t>(d)], 0));
      for (OpId m : members) enqueue_single(prog_->ops[static_cast<std::size_t>(m)], s);
      for (OpId m : members) CUDA_CHECK(cudaEventRecord(start_evt_[static_cast<std::size_t>(m)], s));
      if (members.size() > 1) detail::group_start();
      for (OpId m : members) {
        const plan::Op& op = prog_->ops[static_cast<std::size_t>(m)];
        current_where_ = where(op);
        detail::CudaOpContext ctx(*this, op, s, *scratch_[static_cast<std::size_t>(op.stream)],
                                  *staging_[static_cast<std::size_t>(op.stream)]);
        kernels_[static_cast<std::size_t>(m)](ctx);
      }
      if (members.size() > 1) detail::group_end();
      for (OpId m : members) CUDA_CHECK(cudaEventRecord(end_evt_[static_cast<std::size_t>(m)], s));
      for (OpId m : members)
        for (TensorId t : prog_->ops[static_cast<std::size_t>(m)].frees)
          alloc_->release(t, s, LedgerAnchor::op_end(m));
      if (options_.threading == StreamThreading::sequential) CUDA_CHECK(cudaStreamSynchronize(s));
    } catch (const InputError&) {
      throw;
    } catch (const CheckFailed&) {
      throw;
    } catch (const std::exception& e) {
      throw Error(current_where_ + ", step " + std::to_string(step_) + ": " + e.what());
    }
  }

  void release_step_leftovers(std::int64_t t_ns) {
    std::string names;
    for (TensorId t : step_allocated_)
      if (alloc_->live(t)) {
        alloc_->release(t, streams_.at(0), LedgerAnchor::at(t_ns));
        if (!reported_leaks_) names += (names.empty() ? "" : ", ") + tensor(t).name;
      }
    if (!names.empty() && !reported_leaks_) {
      log("rank " + std::to_string(rank_) + ": the plan allocates and never frees " + names +
          " in a step; the executor releases them at the end of every step");
      reported_leaks_ = true;
    }
  }

  std::int64_t elapsed_ns(cudaEvent_t from, cudaEvent_t to) const {
    float ms = 0.0f;
    if (cudaEventElapsedTime(&ms, from, to) != cudaSuccess) {
      (void)cudaGetLastError();
      return -1;
    }
    return static_cast<std::int64_t>(std::llround(static_cast<double>(ms) * 1e6));
  }

  StepReport run_step() {
    const bool warmup = step_ < options_.warmup_steps;
    cudaStream_t s0 = streams_.at(0);
    std::int64_t begin = 0, end = 0;
    std::vector<std::int64_t> span_start(prog_->ops.size(), 0), span_end(prog_->ops.size(), 0);
    try {
      CUDA_CHECK(cudaMemsetAsync(stats_dev_, 0, sizeof(LossStats), s0));
      CUDA_CHECK(cudaEventRecord(origin_, s0));
      CUDA_CHECK(cudaEventSynchronize(origin_));
      begin = now_ns();
      alloc_->reset_window(begin);
      alloc_->take_samples();
      for (std::size_t s = 1; s < streams_.size(); ++s) CUDA_CHECK(cudaStreamWaitEvent(streams_[s], origin_, 0));
      const std::string step_name = "step " + std::to_string(step_);
      nvtxRangePushA(step_name.c_str());
      int phase = -1;
      for (OpId id : schedule_.order) {
        const int p = static_cast<int>(prog_->ops[static_cast<std::size_t>(id)].tags.phase);
        if (p != phase) {
          if (phase >= 0) nvtxRangePop();
          nvtxRangePushA(std::string(to_string(static_cast<Phase>(p))).c_str());
          phase = p;
        }
        enqueue(id);
      }
      if (phase >= 0) nvtxRangePop();
      nvtxRangePop();
      const cudaError_t e = cudaDeviceSynchronize();
      if (e != cudaSuccess)
        throw_device_error(DeviceLibrary::cuda, static_cast<int>(e), cudaGetErrorName(e), cudaGetErrorString(e),
                           "cudaDeviceSynchronize()", __FILE__, __LINE__,
                           "rank " + std::to_string(rank_) + ", step " + std::to_string(step_) +
                               ": a kernel of this step failed (run with sequential threading to name the op)");
      CUDA_CHECK(cudaMemcpy(stats_host_, stats_dev_, sizeof(LossStats), cudaMemcpyDeviceToHost));
      for (const auto& op : prog_->ops) {
        const auto i = static_cast<std::size_t>(op.id);
        span_start[i] = begin + elapsed_ns(origin_, start_evt_[i]);
        span_end[i] = begin + elapsed_ns(origin_, end_evt_[i]);
      }
      alloc_->settle([&](std::int32_t op, bool at_end) {
        return at_end ? span_end[static_cast<std::size_t>(op)] : span_start[static_cast<std::size_t>(op)];
      });
      end = now_ns();
      release_step_leftovers(end);
      CUDA_CHECK(cudaStreamSynchronize(s0));
      alloc_->settle([](std::int32_t, bool) { return std::int64_t{-1}; });
    } catch (const std::exception& e) {
      (void)cudaDeviceSynchronize();
      if (writer_) writer_->error(e.what());
      throw;
    }

    double control[3] = {stats_host_->sum, static_cast<double>(stats_host_->count),
                         stats_host_->found_inf != 0.0f ? 1.0 : 0.0};
    comms_.world().all_reduce_f64(control, 3, ReduceKind::sum);
    StepRecord sr;
    sr.step = step_;
    sr.warmup = warmup;
    sr.begin_ns = begin;
    sr.end_ns = end;
    sr.loss_sum = stats_host_->sum;
    sr.loss_count = static_cast<std::int64_t>(stats_host_->count);
    sr.mean_loss = control[1] > 0 ? control[0] / control[1] : std::numeric_limits<double>::quiet_NaN();
    sr.skipped = control[2] > 0;
    sr.loss_scale = scaler_.scale();
    for (const auto& op : prog_->ops) {
      const auto i = static_cast<std::size_t>(op.id);
      sr.ops.push_back({rank_, op.id, op.stream, step_, span_start[i], span_end[i]});
      if (is_comm(op.kind)) {
        const GroupKind g = comm_group(op);
        sr.comm.push_back({rank_, g, groups_.group_of(rank_, g), comm_type(op), plan::op_bytes(plan_, op), step_,
                           span_start[i], span_end[i]});
      }
    }
    const DeviceAllocator::Stats w = alloc_->window();
    sr.peak_bytes = w.peak_bytes;
    sr.peak_time_ns = w.peak_time_ns;
    sr.at_peak = w.at_peak;
    sr.role_peak = w.role_peak;
    sr.memory = downsample(alloc_->take_samples(), options_.timeline_max_samples);
    if (plan_.meta.dynamic_loss_scale) scaler_.update(sr.skipped);
    StepReport report{rank_, step_, warmup, sr.mean_loss, sr.skipped, sr.loss_scale, end - begin};
    if (writer_) writer_->step(sr);
    record_.steps.push_back(std::move(sr));
    ++step_;
    if (options_.on_step) options_.on_step(report);
    return report;
  }

  nlohmann::json facts() const {
    const detail::DeviceInfo& info = detail::current_device_info();
    int driver = 0, runtime = 0;
    (void)cudaDriverGetVersion(&driver);
    (void)cudaRuntimeGetVersion(&runtime);
    const GemmEngine::Stats g = gemm_->stats();
    return {{"device", info.name},
            {"device_index", device_},
            {"compute_capability", std::to_string(info.cc_major) + "." + std::to_string(info.cc_minor)},
            {"sm_count", info.sm_count},
            {"device_memory_bytes", info.total_memory},
            {"cuda_driver", driver},
            {"cuda_runtime", runtime},
            {"nccl", detail::nccl_version()},
            {"gemm", gemm_->describe()},
            {"gemm_calls", g.calls},
            {"gemm_descriptors", g.cache_misses},
            {"gemm_staged_operands", g.staged},
            {"gemm_fp8_widened", g.fp8_widened},
            {"gemm_bias_prefills", g.bias_prefills},
            {"fp8_tensor_cores", gemm_->fp8_supported()},
            {"pool_used_high_bytes", memory_->attribute(cudaMemPoolAttrUsedMemHigh)},
            {"pool_reserved_high_bytes", memory_->attribute(cudaMemPoolAttrReservedMemHigh)},
            {"scratch_peak_bytes", scratch_totals_.peak},
            {"dropped_waits", schedule_.dropped_waits},
            {"grouped_p2p_runs", schedule_.p2p_runs.size()}};
  }
};

CudaWorker::CudaWorker(const plan::Plan& plan, CommunicatorFactory& comms, RunOptions options)
    : impl_(std::make_unique<Impl>(plan, comms, std::move(options))) {
  impl_->setup();
}

CudaWorker::~CudaWorker() = default;

StepReport CudaWorker::run_step() {
  return impl_->run_step();
}
std::int32_t CudaWorker::rank() const {
  return impl_->rank_;
}
std::int32_t CudaWorker::steps_run() const {
  return impl_->step_;
}
double CudaWorker::loss_scale() const {
  return impl_->scaler_.scale();
}
int CudaWorker::device() const {
  return impl_->device_;
}
const DeviceAllocator& CudaWorker::allocator() const {
  return *impl_->alloc_;
}
RankRecord CudaWorker::record() const {
  return impl_->record_;
}
nlohmann::json CudaWorker::facts() const {
  return impl_->facts();
}

RankRecord CudaWorker::finish() {
  RankRecord& r = impl_->record_;
  CUDA_CHECK(cudaDeviceSynchronize());
  const DeviceMemory::Info info = impl_->memory_->info();
  r.resident_bytes = info.total_bytes - info.free_bytes;
  r.resident_peak_bytes = impl_->memory_->attribute(cudaMemPoolAttrUsedMemHigh);
  r.finished = true;
  if (impl_->writer_) impl_->writer_->end(r);
  return r;
}

std::vector<float> CudaWorker::read_tensor(TensorId id) const {
  const plan::Tensor& t = impl_->tensor(id);
  const std::byte* p = impl_->storage(id);
  CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<std::byte> raw(static_cast<std::size_t>(t.bytes));
  CUDA_CHECK(cudaMemcpy(raw.data(), p, raw.size(), cudaMemcpyDeviceToHost));
  const std::int64_t n = t.bytes / dtype_bytes(t.dtype);
  std::vector<float> out(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const auto k = static_cast<std::size_t>(i);
    switch (t.dtype) {
      case DType::int32:
        out[k] = static_cast<float>(reinterpret_cast<const std::int32_t*>(raw.data())[i]);
        break;
      case DType::int64:
        out[k] = static_cast<float>(reinterpret_cast<const std::int64_t*>(raw.data())[i]);
        break;
      case DType::uint8:
        out[k] = static_cast<float>(reinterpret_cast<const std::uint8_t*>(raw.data())[i]);
        break;
      default:
        break;
    }
  }
  if (cpu::is_float_dtype(t.dtype)) cpu::cast_to_float(out.data(), raw.data(), t.dtype, n);
  return out;
}

void CudaWorker::write_tensor(TensorId id, const std::vector<float>& values) {
  const plan::Tensor& t = impl_->tensor(id);
  const std::int64_t n = t.bytes / dtype_bytes(t.dtype);
  require(static_cast<std::int64_t>(values.size()) == n,
          "write_tensor: " + t.name + " has " + std::to_string(n) + " elements");
  std::vector<std::byte> raw(static_cast<std::size_t>(t.bytes));
  for (std::int64_t i = 0; i < n; ++i) {
    const float v = values[static_cast<std::size_t>(i)];
    switch (t.dtype) {
      case DType::int32:
        reinterpret_cast<std::int32_t*>(raw.data())[i] = static_cast<std::int32_t>(v);
        break;
      case DType::int64:
        reinterpret_cast<std::int64_t*>(raw.data())[i] = static_cast<std::int64_t>(v);
        break;
      case DType::uint8:
        reinterpret_cast<std::uint8_t*>(raw.data())[i] = static_cast<std::uint8_t>(v);
        break;
      default:
        break;
    }
  }
  if (cpu::is_float_dtype(t.dtype)) cpu::cast_from_float(raw.data(), t.dtype, values.data(), n);
  std::byte* p = impl_->storage(id);
  CUDA_CHECK(cudaDeviceSynchronize());
  CUDA_CHECK(cudaMemcpy(p, raw.data(), raw.size(), cudaMemcpyHostToDevice));
}

}  // namespace clustersim::executor::cuda
