// The plan interpreter (Worker): resolves the rank's program against the kernel registry, allocates
// and initialises tensors, runs each step's ops on one thread per stream (condition variables for
// deps, no spinning) or sequentially, applies dynamic loss scaling, and records spans and memory.
#include "clustersim/executor/worker.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <tuple>

#include "clustersim/executor/calibrate.hpp"
#include "clustersim/executor/cpu/cast.hpp"
#include "clustersim/executor/cpu/gemm.hpp"
#include "clustersim/executor/rng.hpp"
#include "clustersim/executor/thread_priority.hpp"
#include "clustersim/plan/error.hpp"
#include "clustersim/plan/hazards.hpp"
#include "op_context.hpp"
#include "run_dir.hpp"

namespace clustersim::executor {

using plan::OpId;
using plan::TensorId;

namespace {

constexpr std::uint64_t kDropoutSalt = 0xD50;
constexpr auto kStuckGrace = std::chrono::seconds(20);

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

// Keeps at most `max` samples: evenly spaced ones plus the maximum.
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

}  // namespace

struct Worker::Impl final : detail::RankServices {
  // --- fixed for the run ---
  const plan::Plan& plan_;
  RunOptions options_;
  CommunicatorFactory& comms_;
  std::int32_t rank_ = 0, program_id_ = 0;
  const plan::Program* prog_ = nullptr;
  plan::RankGroups groups_;
  std::array<std::unique_ptr<Communicator>, kGroupKindCount> comm_;
  std::uint64_t seed_ = 1;
  std::shared_ptr<const DataSource> data_;
  std::int64_t vocab_ = 0, classes_ = 0, num_mb_ = 1;
  std::chrono::steady_clock::time_point t0_;
  TensorAllocator alloc_;
  std::vector<detail::KernelFn> kernels_;
  std::vector<std::uint64_t> dropout_identity_;
  std::vector<std::vector<TensorId>> views_of_;
  std::vector<std::vector<OpId>> stream_ops_;
  std::vector<TensorId> step_allocated_;  // every tensor an op of the program allocates
  bool reported_leaks_ = false;
  std::unique_ptr<detail::RunDirWriter> writer_;

  // --- training state ---
  std::vector<std::int64_t> optimizer_steps_;
  std::int32_t step_ = 0;
  double loss_scale_ = 1.0;
  std::int64_t clean_steps_ = 0;
  std::mutex stats_mu_;
  double loss_sum_ = 0.0;
  std::int64_t loss_count_ = 0;
  bool found_inf_ = false;
  std::vector<std::int64_t> span_start_, span_end_;
  RankRecord record_;

  // --- stream threads ---
  // One condition variable per stream thread and one for the calling thread, and an op's completion
  // wakes only the streams with an op that depends on it: a rank's threads usually share one core,
  // and waking every thread after every op would cost a few context switches per op.
  std::mutex mu_;
  std::vector<std::unique_ptr<std::condition_variable>> stream_cv_;
  std::condition_variable main_cv_;
  std::vector<std::vector<std::size_t>> wake_on_done_;  // op -> other streams waiting on it
  std::vector<std::int64_t> done_gen_;
  std::int64_t gen_ = 0;
  std::size_t streams_done_ = 0, threads_exited_ = 0;
  bool stop_ = false, abort_ = false;
  std::exception_ptr error_;
  std::vector<std::thread> threads_;

  Impl(const plan::Plan& plan, CommunicatorFactory& comms, RunOptions options)
      : plan_(plan), options_(std::move(options)), comms_(comms), groups_(plan), alloc_([this] { return now_ns(); }) {}

  std::int64_t now_ns() const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0_).count();
  }
  void log(const std::string& s) const {
    if (options_.log) options_.log(s);
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
      writer_ = std::make_unique<detail::RunDirWriter>(options_.run_dir, rank_, options_.record_fatal_signals);
      writer_->begin(program_id_, plan_.world_size);
    }
    record_.rank = rank_;
    record_.program = program_id_;
    record_.world_size = plan_.world_size;
    record_.host = detail::host_name();
    record_.pid = static_cast<std::int64_t>(::getpid());
    try {
      setup_rest();
    } catch (const std::exception& e) {
      if (writer_) writer_->error(e.what());
      throw;
    }
  }

  void setup_rest() {
    cpu::gemm_set_threads(options_.blas_threads);
    for (int k = 0; k < kGroupKindCount; ++k) {
      const auto kind = static_cast<GroupKind>(k);
      const std::int32_t gid = groups_.group_of(rank_, kind);
      const plan::Group* g = gid == plan::kNone ? nullptr : &plan_.groups.at(static_cast<std::size_t>(gid));
      comm_[static_cast<std::size_t>(k)] = comms_.create(kind, g, groups_.index_in_group(rank_, kind));
    }
    seed_ = static_cast<std::uint64_t>(options_.seed.value_or(plan_.meta.seed));
    data_ = options_.data ? options_.data : make_synthetic_data(seed_);
    num_mb_ = std::max<std::int64_t>(1, plan_.meta.num_microbatches);
    find_vocab();
    const std::size_t n_ops = prog_->ops.size();
    kernels_.resize(n_ops);
    for (const auto& op : prog_->ops)
      kernels_[static_cast<std::size_t>(op.id)] = detail::KernelRegistry::cpu().find(op, where(op));
    assign_dropout_identities();
    if (options_.threading == StreamThreading::thread_per_stream) {
      const auto hazards = plan::find_stream_hazards(plan_, groups_, rank_, program_id_);
      if (!hazards.empty()) {
        std::string msg = "internal error: the plan's program " + std::to_string(program_id_) + " (" + prog_->name +
                          ") races when its streams run concurrently on rank " + std::to_string(rank_) + ": ";
        for (std::size_t i = 0; i < hazards.size(); ++i) msg += (i ? "; " : "") + hazards[i];
        throw InternalError(msg + " (a missing dep in the plan; StreamThreading::sequential runs it in program order)");
      }
    }
    views_of_.assign(plan_.tensors.size(), {});
    for (const auto& t : plan_.tensors)
      if (t.view_of != plan::kNone) views_of_[static_cast<std::size_t>(t.view_of)].push_back(t.id);
    stream_ops_.assign(prog_->streams.size(), {});
    for (const auto& op : prog_->ops) stream_ops_[static_cast<std::size_t>(op.stream)].push_back(op.id);
    wake_on_done_.assign(n_ops, {});
    for (const auto& op : prog_->ops)
      for (OpId d : op.deps) {
        auto& wake = wake_on_done_.at(static_cast<std::size_t>(d));
        const auto stream = static_cast<std::size_t>(op.stream);
        if (stream != static_cast<std::size_t>(prog_->ops.at(static_cast<std::size_t>(d)).stream) &&
            std::find(wake.begin(), wake.end(), stream) == wake.end())
          wake.push_back(stream);
      }
    for (std::size_t s = 0; s < stream_ops_.size(); ++s)
      stream_cv_.push_back(std::make_unique<std::condition_variable>());
    for (const auto& op : prog_->ops) step_allocated_.insert(step_allocated_.end(), op.allocs.begin(), op.allocs.end());
    std::sort(step_allocated_.begin(), step_allocated_.end());
    step_allocated_.erase(std::unique(step_allocated_.begin(), step_allocated_.end()), step_allocated_.end());
    optimizer_steps_.assign(n_ops, 0);
    span_start_.assign(n_ops, 0);
    span_end_.assign(n_ops, 0);
    done_gen_.assign(n_ops, 0);
    loss_scale_ = plan_.meta.dynamic_loss_scale ? plan_.meta.loss_scale_init : 1.0;

    comms_.world().barrier();  // align the clocks of all ranks
    t0_ = std::chrono::steady_clock::now();
    for (TensorId t : prog_->persistent) allocate(t);
    for (TensorId t : prog_->persistent) apply_inits(t, false);
    for (TensorId t : prog_->persistent) apply_inits(t, true);
    alloc_.take_samples();
    std::int64_t persistent = 0;
    for (TensorId t : prog_->persistent) persistent += tensor(t).bytes;
    record_.persistent_bytes = persistent;

    if (options_.threading == StreamThreading::thread_per_stream)
      for (std::size_t s = 0; s < stream_ops_.size(); ++s) threads_.emplace_back([this, s] { stream_loop(s); });
  }

  const plan::Tensor& tensor(TensorId id) const { return plan_.tensors.at(static_cast<std::size_t>(id)); }

  std::string where(const plan::Op& op) const {
    return "rank " + std::to_string(rank_) + ", program " + std::to_string(program_id_) + " op " +
           std::to_string(op.id) + " (" + op.name + ")";
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

  // The k-th dropout-drawing op of a kind with the same (layer, microbatch, stage, chunk) in the
  // forward pass, the k-th in the recompute pass and the k-th from the end backward share an identity.
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
    std::byte* p = alloc_.data(base);
    if (p == nullptr)
      throw InternalError("internal error: rank " + std::to_string(rank_) + " uses tensor " + t.name +
                          " whose storage is not allocated (is a dep on the op that allocates it missing?)");
    return t.view_of == plan::kNone ? p : p + view_offset(t);
  }

  void allocate(TensorId id) {
    const plan::Tensor& t = tensor(id);
    alloc_.allocate(id, t.bytes, t.role);
  }

  // Fills `dst` (the storage of `t`) from a zeros/ones/normal init.
  void fill_value_init(std::byte* dst, const plan::Tensor& t) const {
    const auto& in = t.init;
    const std::int64_t n = t.bytes / dtype_bytes(t.dtype);
    if (in.kind == plan::TensorInit::Kind::none || in.kind == plan::TensorInit::Kind::zeros ||
        in.kind == plan::TensorInit::Kind::copy) {
      if (in.kind == plan::TensorInit::Kind::zeros) std::memset(dst, 0, static_cast<std::size_t>(t.bytes));
      return;
    }
    if (in.kind == plan::TensorInit::Kind::ones) {
      if (t.dtype == DType::int32)
        std::fill_n(reinterpret_cast<std::int32_t*>(dst), n, 1);
      else if (t.dtype == DType::int64)
        std::fill_n(reinterpret_cast<std::int64_t*>(dst), n, 1);
      else if (t.dtype == DType::uint8)
        std::fill_n(reinterpret_cast<std::uint8_t*>(dst), n, 1);
      else {
        const std::vector<float> ones(static_cast<std::size_t>(n), 1.0f);
        cpu::cast_from_float(dst, t.dtype, ones.data(), n);
      }
      return;
    }
    // normal: element i of the local tensor is element full_index(i) of the unsharded tensor
    if (!cpu::is_float_dtype(t.dtype))
      throw InputError("tensors[" + std::to_string(t.id) + "] (" + t.name + ").init", "\"normal\"", "a float tensor");
    std::vector<std::int64_t> local = t.shape.empty() ? std::vector<std::int64_t>{n} : t.shape;
    std::vector<std::int64_t> full = in.full_shape.empty() ? local : in.full_shape;
    const int d = in.shard_dim;
    std::int64_t outer = 1, inner = 1, mid = n, full_mid = n, shard = 0;
    if (d >= 0) {
      if (full.size() != local.size() || d >= static_cast<int>(local.size()))
        throw InputError("tensors[" + std::to_string(t.id) + "] (" + t.name + ").init.full_shape", "rank mismatch",
                         "the tensor's rank with shard_dim inside it");
      for (int k = 0; k < d; ++k) outer *= local[static_cast<std::size_t>(k)];
      for (std::size_t k = static_cast<std::size_t>(d) + 1; k < local.size(); ++k) inner *= local[k];
      mid = local[static_cast<std::size_t>(d)];
      full_mid = full[static_cast<std::size_t>(d)];
      shard = groups_.index_in_group(rank_, in.shard_group);
    }
    const std::uint64_t key = derive_key(seed_, static_cast<std::uint64_t>(in.seed_key));
    std::vector<float> values(static_cast<std::size_t>(n));
    std::size_t i = 0;
    for (std::int64_t o = 0; o < outer; ++o)
      for (std::int64_t j = 0; j < mid; ++j)
        for (std::int64_t k = 0; k < inner; ++k, ++i) {
          const std::int64_t full_index =
              d >= 0 ? (o * full_mid + shard * mid + j) * inner + k : static_cast<std::int64_t>(i);
          values[i] = static_cast<float>(in.std * normal01(key, static_cast<std::uint64_t>(full_index)));
        }
    cpu::cast_from_float(dst, t.dtype, values.data(), n);
  }

  // Value inits (copies == false) or copy inits (copies == true) of `base` and of its views, into `data`.
  void apply_inits_into(std::byte* data, TensorId base, bool copies, int depth = 0) {
    auto one = [&](const plan::Tensor& t, std::byte* dst) {
      if ((t.init.kind == plan::TensorInit::Kind::copy) != copies) return;
      if (copies)
        copy_init(dst, t, depth);
      else
        fill_value_init(dst, t);
    };
    one(tensor(base), data);
    for (TensorId v : views_of_[static_cast<std::size_t>(base)]) one(tensor(v), data + view_offset(tensor(v)));
  }

  void apply_inits(TensorId base, bool copies) { apply_inits_into(alloc_.data(base), base, copies); }

  void copy_init(std::byte* dst, const plan::Tensor& t, int depth) {
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
    const std::byte* from = nullptr;
    std::vector<std::byte> temp;
    if (alloc_.live(src_base)) {
      from = storage(src_id);
    } else {  // an init-only tensor: materialise it (with its views' inits) for the copy
      temp.assign(static_cast<std::size_t>(tensor(src_base).bytes), std::byte{0});
      apply_inits_into(temp.data(), src_base, false, depth + 1);
      apply_inits_into(temp.data(), src_base, true, depth + 1);
      from = temp.data() + (src.view_of == plan::kNone ? 0 : view_offset(src));
    }
    if (src.dtype == t.dtype)
      std::memcpy(dst, from, static_cast<std::size_t>(n * dtype_bytes(t.dtype)));
    else
      cpu::cast_convert(dst, t.dtype, from, src.dtype, n);
  }

  // --- services for the dispatchers ---------------------------------------------------------------
  const plan::Plan& plan() const override { return plan_; }
  std::int32_t rank() const override { return rank_; }
  std::int32_t program() const override { return program_id_; }
  std::int32_t step() const override { return step_; }
  std::int32_t group_index(GroupKind k) const override { return comm_[static_cast<std::size_t>(k)]->index(); }
  std::int32_t group_size(GroupKind k) const override { return comm_[static_cast<std::size_t>(k)]->size(); }
  Communicator& comm(GroupKind k) override { return *comm_[static_cast<std::size_t>(k)]; }
  double loss_scale() const override { return loss_scale_; }
  void add_losses(double sum, std::int64_t count) override {
    std::lock_guard lock(stats_mu_);
    loss_sum_ += sum;
    loss_count_ += count;
  }
  void note_found_inf() override {
    std::lock_guard lock(stats_mu_);
    found_inf_ = true;
  }
  std::int64_t next_optimizer_step(OpId op) override { return ++optimizer_steps_[static_cast<std::size_t>(op)]; }
  std::uint64_t dropout_key(const plan::Op& op) const override {
    return derive_key(seed_, kDropoutSalt, static_cast<std::uint64_t>(step_),
                      static_cast<std::uint64_t>(group_index(GroupKind::dp)),
                      dropout_identity_[static_cast<std::size_t>(op.id)]);
  }
  const DataSource& data() const override { return *data_; }
  std::int64_t vocab() const override { return vocab_; }
  std::int64_t classes() const override { return classes_; }
  std::int64_t num_microbatches() const override { return num_mb_; }

  // --- running ops ---------------------------------------------------------------------------------
  void execute(OpId id) {
    const plan::Op& op = prog_->ops[static_cast<std::size_t>(id)];
    try {
      for (TensorId t : op.allocs) {
        allocate(t);
        apply_inits(t, false);
      }
      for (TensorId t : op.allocs) apply_inits(t, true);
      const std::int64_t start = now_ns();
      detail::OpContext ctx(*this, op);
      kernels_[static_cast<std::size_t>(id)](ctx);
      ctx.commit();
      const std::int64_t end = now_ns();
      for (TensorId t : op.frees) alloc_.release(t);
      span_start_[static_cast<std::size_t>(id)] = start;
      span_end_[static_cast<std::size_t>(id)] = end;
    } catch (const InputError&) {
      throw;
    } catch (const CheckFailed&) {
      throw;
    } catch (const std::exception& e) {
      throw Error(where(op) + ", step " + std::to_string(step_) + ": " + e.what());
    }
  }

  void stream_loop(std::size_t s) {
    // Compute yields the core to a waking communication thread, and counts as the core's work
    // while it runs a kernel (thread_priority.hpp).
    const bool compute = s < prog_->streams.size() && prog_->streams[s].kind == StreamKind::compute;
    if (compute) lower_compute_thread_priority();
    std::int64_t seen = 0;
    for (;;) {
      std::condition_variable& cv = *stream_cv_[s];
      {
        std::unique_lock lock(mu_);
        cv.wait(lock, [&] { return stop_ || gen_ > seen; });
        if (stop_) break;
        seen = gen_;
      }
      for (OpId id : stream_ops_[s]) {
        const plan::Op& op = prog_->ops[static_cast<std::size_t>(id)];
        {
          std::unique_lock lock(mu_);
          cv.wait(lock, [&] {
            if (abort_ || stop_) return true;
            for (OpId d : op.deps)
              if (done_gen_[static_cast<std::size_t>(d)] != seen) return false;
            return true;
          });
          if (abort_ || stop_) break;
        }
        try {
          std::optional<ComputeActivity> activity;
          if (compute) activity.emplace();
          execute(id);
        } catch (...) {
          std::lock_guard lock(mu_);
          if (!error_) error_ = std::current_exception();
          abort_ = true;
          notify_everyone();
          break;
        }
        {
          std::lock_guard lock(mu_);
          done_gen_[static_cast<std::size_t>(id)] = seen;
        }
        for (std::size_t t : wake_on_done_[static_cast<std::size_t>(id)]) stream_cv_[t]->notify_one();
      }
      bool last = false;
      {
        std::lock_guard lock(mu_);
        last = ++streams_done_ == stream_ops_.size();
      }
      if (last) main_cv_.notify_one();
    }
    std::lock_guard lock(mu_);
    ++threads_exited_;
    main_cv_.notify_all();
  }

  // Wakes every stream thread and the calling thread (start of a step, abort, stop).
  void notify_everyone() {
    for (auto& cv : stream_cv_) cv->notify_one();
    main_cv_.notify_all();
  }

  void run_ops() {
    if (options_.threading == StreamThreading::sequential) {
      for (const auto& op : prog_->ops) execute(op.id);
      return;
    }
    std::unique_lock lock(mu_);
    streams_done_ = 0;
    abort_ = false;
    error_ = nullptr;
    ++gen_;
    for (auto& cv : stream_cv_) cv->notify_one();
    main_cv_.wait(lock, [&] { return streams_done_ == stream_ops_.size() || abort_; });
    if (abort_ && !main_cv_.wait_for(lock, kStuckGrace, [&] { return streams_done_ == stream_ops_.size(); }))
      log("rank " + std::to_string(rank_) + ": a stream did not stop after an error (blocked in communication)");
    if (error_) std::rethrow_exception(error_);
  }

  // A program is one step: what its ops allocated and did not free is released when it ends (and
  // reported once), so the next step can allocate it again.
  void release_step_leftovers() {
    std::string names;
    for (TensorId t : step_allocated_)
      if (alloc_.live(t)) {
        alloc_.release(t);
        if (!reported_leaks_) names += (names.empty() ? "" : ", ") + tensor(t).name;
      }
    if (!names.empty() && !reported_leaks_) {
      log("rank " + std::to_string(rank_) + ": the plan allocates and never frees " + names +
          " in a step; the executor releases them at the end of every step");
      reported_leaks_ = true;
    }
  }

  StepReport run_step() {
    const bool warmup = step_ < options_.warmup_steps;
    {
      std::lock_guard lock(stats_mu_);
      loss_sum_ = 0.0;
      loss_count_ = 0;
      found_inf_ = false;
    }
    alloc_.reset_window();
    alloc_.take_samples();
    const std::int64_t begin = now_ns();
    try {
      run_ops();
    } catch (const std::exception& e) {
      if (writer_) writer_->error(e.what());
      throw;
    }
    release_step_leftovers();
    const std::int64_t end = now_ns();

    double control[3] = {loss_sum_, static_cast<double>(loss_count_), found_inf_ ? 1.0 : 0.0};
    comms_.world().all_reduce_f64(control, 3, ReduceKind::sum);
    StepRecord sr;
    sr.step = step_;
    sr.warmup = warmup;
    sr.begin_ns = begin;
    sr.end_ns = end;
    sr.loss_sum = loss_sum_;
    sr.loss_count = loss_count_;
    sr.mean_loss = control[1] > 0 ? control[0] / control[1] : std::numeric_limits<double>::quiet_NaN();
    sr.skipped = control[2] > 0;
    sr.loss_scale = loss_scale_;
    for (const auto& op : prog_->ops) {
      const auto i = static_cast<std::size_t>(op.id);
      sr.ops.push_back({rank_, op.id, op.stream, step_, span_start_[i], span_end_[i]});
      if (is_comm(op.kind)) {
        const GroupKind g = comm_group(op);
        sr.comm.push_back({rank_, g, groups_.group_of(rank_, g), comm_type(op), plan::op_bytes(plan_, op), step_,
                           span_start_[i], span_end_[i]});
      }
    }
    const TensorAllocator::Stats w = alloc_.window();
    sr.peak_bytes = w.peak_bytes;
    sr.peak_time_ns = w.peak_time_ns;
    sr.at_peak = w.at_peak;
    sr.role_peak = w.role_peak;
    sr.memory = downsample(alloc_.take_samples(), options_.timeline_max_samples);

    if (plan_.meta.dynamic_loss_scale) {
      if (sr.skipped) {
        loss_scale_ *= plan_.meta.loss_scale_backoff;
        clean_steps_ = 0;
      } else if (++clean_steps_ >= plan_.meta.loss_scale_window) {
        loss_scale_ *= plan_.meta.loss_scale_growth;
        clean_steps_ = 0;
      }
    }
    StepReport report{rank_, step_, warmup, sr.mean_loss, sr.skipped, sr.loss_scale, end - begin};
    if (writer_) writer_->step(sr);
    record_.steps.push_back(std::move(sr));
    ++step_;
    if (options_.on_step) options_.on_step(report);
    return report;
  }

  // Stops the stream threads; false when some stayed blocked (in communication, after a failure
  // elsewhere) and were detached.
  bool shutdown() {
    bool all = false;
    {
      std::unique_lock lock(mu_);
      stop_ = true;
      notify_everyone();
      all = main_cv_.wait_for(lock, kStuckGrace, [&] { return threads_exited_ == threads_.size(); });
    }
    for (auto& t : threads_) {
      if (all)
        t.join();
      else
        t.detach();
    }
    threads_.clear();
    return all;
  }
};

Worker::Worker(const plan::Plan& plan, CommunicatorFactory& comms, RunOptions options)
    : impl_(std::make_shared<Impl>(plan, comms, std::move(options))) {
  impl_->setup();
}

Worker::~Worker() {
  if (!impl_->shutdown()) {
    // Detached threads still reference the state: keep it alive for them (the process is ending).
    static std::vector<std::shared_ptr<Impl>> orphans;
    orphans.push_back(impl_);
  }
}

StepReport Worker::run_step() {
  return impl_->run_step();
}
std::int32_t Worker::rank() const {
  return impl_->rank_;
}
std::int32_t Worker::steps_run() const {
  return impl_->step_;
}
double Worker::loss_scale() const {
  return impl_->loss_scale_;
}
const TensorAllocator& Worker::allocator() const {
  return impl_->alloc_;
}
const StepRecord& Worker::last_step() const {
  require(!impl_->record_.steps.empty(), "Worker::last_step before any step ran");
  return impl_->record_.steps.back();
}
RankRecord Worker::record() const {
  return impl_->record_;
}

RankRecord Worker::finish() {
  RankRecord& r = impl_->record_;
  const ResidentMemory m = read_resident_memory();
  r.resident_bytes = m.resident_bytes;
  r.resident_peak_bytes = m.peak_resident_bytes;
  r.finished = true;
  if (impl_->writer_) impl_->writer_->end(r);
  return r;
}

std::vector<float> Worker::read_tensor(TensorId id) const {
  const plan::Tensor& t = impl_->tensor(id);
  const std::byte* p = impl_->storage(id);
  const std::int64_t n = t.bytes / dtype_bytes(t.dtype);
  std::vector<float> out(static_cast<std::size_t>(n));
  switch (t.dtype) {
    case DType::int32:
      for (std::int64_t i = 0; i < n; ++i)
        out[static_cast<std::size_t>(i)] = static_cast<float>(reinterpret_cast<const std::int32_t*>(p)[i]);
      break;
    case DType::int64:
      for (std::int64_t i = 0; i < n; ++i)
        out[static_cast<std::size_t>(i)] = static_cast<float>(reinterpret_cast<const std::int64_t*>(p)[i]);
      break;
    case DType::uint8:
      for (std::int64_t i = 0; i < n; ++i)
        out[static_cast<std::size_t>(i)] = static_cast<float>(reinterpret_cast<const std::uint8_t*>(p)[i]);
      break;
    default:
      cpu::cast_to_float(out.data(), p, t.dtype, n);
  }
  return out;
}

void Worker::write_tensor(TensorId id, const std::vector<float>& values) {
  const plan::Tensor& t = impl_->tensor(id);
  const std::int64_t n = t.bytes / dtype_bytes(t.dtype);
  require(static_cast<std::int64_t>(values.size()) == n,
          "write_tensor: " + t.name + " has " + std::to_string(n) + " elements");
  std::byte* p = impl_->storage(id);
  switch (t.dtype) {
    case DType::int32:
      for (std::int64_t i = 0; i < n; ++i)
        reinterpret_cast<std::int32_t*>(p)[i] = static_cast<std::int32_t>(values[static_cast<std::size_t>(i)]);
      break;
    case DType::int64:
      for (std::int64_t i = 0; i < n; ++i)
        reinterpret_cast<std::int64_t*>(p)[i] = static_cast<std::int64_t>(values[static_cast<std::size_t>(i)]);
      break;
    case DType::uint8:
      for (std::int64_t i = 0; i < n; ++i)
        reinterpret_cast<std::uint8_t*>(p)[i] = static_cast<std::uint8_t>(values[static_cast<std::size_t>(i)]);
      break;
    default:
      cpu::cast_from_float(p, t.dtype, values.data(), n);
  }
}

RunResult run_rank(const plan::Plan& plan, CommunicatorFactory& comms, const RunOptions& options) {
  Worker worker(plan, comms, options);
  std::optional<plan::MachineProbe> before, after;
  if (options.machine_probe) before = probe_machine(comms);
  for (std::int32_t s = 0; s < options.steps; ++s) worker.run_step();
  if (options.machine_probe) after = probe_machine(comms);
  RunResult result;
  result.record = worker.finish();
  for (const auto& s : result.record.steps) result.losses.push_back(s.mean_loss);
  const std::vector<std::string> gathered = comms.world().gather_strings(to_json(result.record).dump(), 0);
  if (comms.world_rank() == 0) {
    std::vector<RankRecord> records;
    for (const auto& text : gathered) records.push_back(rank_record_from_json(nlohmann::json::parse(text)));
    TraceOptions topt;
    topt.scenario = options.scenario;
    topt.hardware = options.hardware;
    topt.peak_flops_per_rank = options.peak_flops_per_rank;
    topt.capacity_bytes = options.capacity_bytes > 0 ? options.capacity_bytes : detail::host_memory_bytes();
    topt.timeline_max_samples = options.timeline_max_samples;
    topt.extra = {
        {"warmup_steps", options.warmup_steps},
        {"threading", options.threading == StreamThreading::sequential ? "sequential" : "thread_per_stream"},
        {"blas_threads", options.blas_threads},
        {"communicators", comms.backend()},
        {"seed", options.seed.value_or(plan.meta.seed)},
        {"data",
         options.data
             ? options.data->describe()
             : make_synthetic_data(static_cast<std::uint64_t>(options.seed.value_or(plan.meta.seed)))->describe()}};
    if (before && after)
      topt.extra["machine_probe"] = {{"before", plan::probe_to_json(*before)}, {"after", plan::probe_to_json(*after)}};
    result.trace = build_measured_trace(plan, records, topt);
  }
  return result;
}

ResidentMemory read_resident_memory() {
  ResidentMemory m;
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::string key;
    std::int64_t kib = 0;
    ss >> key >> kib;
    if (key == "VmRSS:") m.resident_bytes = kib * 1024;
    if (key == "VmHWM:") m.peak_resident_bytes = kib * 1024;
  }
  return m;
}

}  // namespace clustersim::executor
