// calibrate_cuda (cuda/backend.hpp): single-op plans timed through a CudaWorker (so dispatch, dtype
// handling and kernels are those of a real run; spans from CUDA events), NCCL collectives and
// point-to-point timed with events on one stream, and the GEMM slowdown while communication (or, on
// one rank, a device-to-device copy) runs on another stream. Every rank measures at once on its own
// device; compute samples are averaged over ranks, communication takes the slowest rank.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <functional>
#include <thread>

#include "check.hpp"
#include "clustersim/executor/cuda/backend.hpp"
#include "clustersim/executor/cuda/gemm.hpp"
#include "clustersim/executor/cuda/worker.hpp"
#include "clustersim/plan/error.hpp"
#include "device_info.hpp"
#include "nccl_comm.hpp"
#include "runtime/run_dir.hpp"

namespace clustersim::executor {

namespace {

using plan::OpId;
using plan::TensorId;

struct SamplePlan {
  plan::Plan p;
  SamplePlan() {
    p.world_size = 1;
    p.programs.push_back({});
    p.programs[0].name = "calibration";
    p.programs[0].streams.push_back({0, "compute", StreamKind::compute});
    p.program_of_rank = {0};
    p.meta.num_microbatches = 1;
  }
  TensorId tensor(const std::string& name, DType dtype, std::vector<std::int64_t> shape) {
    plan::Tensor t;
    t.id = static_cast<TensorId>(p.tensors.size());
    t.name = name;
    t.dtype = dtype;
    t.shape = std::move(shape);
    t.bytes = t.elements() * dtype_bytes(dtype);
    t.persistent = true;
    p.tensors.push_back(t);
    p.programs[0].persistent.push_back(t.id);
    return t.id;
  }
  OpId op(OpKind kind, plan::OpParams params, std::vector<TensorId> in, std::vector<TensorId> out) {
    plan::Op o;
    o.id = static_cast<OpId>(p.programs[0].ops.size());
    o.name = "sample";
    o.kind = kind;
    o.params = std::move(params);
    o.inputs = std::move(in);
    o.outputs = std::move(out);
    p.programs[0].ops.push_back(o);
    return o.id;
  }
  OpId elementwise(const std::string& name, std::vector<TensorId> in, std::vector<TensorId> out, double scalar = 0.0,
                   std::vector<std::int64_t> dims = {}, bool reads_outputs = false) {
    plan::ElementwiseParams e;
    e.name = name;
    e.scalar = scalar;
    e.dims = std::move(dims);
    for (TensorId t : in) e.bytes_read += p.tensors[static_cast<std::size_t>(t)].bytes;
    for (TensorId t : out) e.bytes_written += p.tensors[static_cast<std::size_t>(t)].bytes;
    if (reads_outputs) e.bytes_read += e.bytes_written;
    e.elements = in.empty() ? p.tensors[static_cast<std::size_t>(out.at(0))].elements()
                            : p.tensors[static_cast<std::size_t>(in[0])].elements();
    return op(OpKind::elementwise, e, std::move(in), std::move(out));
  }
};

void fill_floats(cuda::CudaWorker& w, const plan::Plan& p) {
  for (const auto& t : p.tensors) {
    if (t.view_of != plan::kNone || t.dtype == DType::int32 || t.dtype == DType::uint8 || t.dtype == DType::int64)
      continue;
    std::vector<float> v(static_cast<std::size_t>(t.elements()));
    for (std::size_t i = 0; i < v.size(); ++i)
      v[i] = static_cast<float>((i * 2654435761u + static_cast<std::size_t>(t.id) * 40503u) % 2000u) / 1000.0f - 1.0f;
    w.write_tensor(t.id, v);
  }
}

// Mean span per op of the sample plan over the repeats after a warm-up step.
std::vector<double> time_plan(const plan::Plan& p, const CalibrationOptions& o,
                              const std::function<void(cuda::CudaWorker&)>& prepare = {}) {
  auto comms = make_local_communicators();
  RunOptions ro;
  ro.warmup_steps = 0;
  ro.timeline_max_samples = 1;
  cuda::CudaWorker w(p, *comms, ro);
  fill_floats(w, p);
  if (prepare) prepare(w);
  w.run_step();
  auto op_time = [](const StepRecord& s) {
    double t = 0.0;
    for (const auto& span : s.ops) t += static_cast<double>(span.end_ns - span.start_ns);
    return t;
  };
  const double first = std::max(1.0, op_time(w.record().steps.back()));
  const int reps = std::clamp(static_cast<int>(std::ceil(o.min_sample_s * 1e9 / first)), o.min_repeats, o.max_repeats);
  for (int r = 0; r < reps; ++r) w.run_step();
  const RankRecord rec = w.record();
  std::vector<double> mean(p.programs[0].ops.size(), 0.0);
  for (std::size_t s = 1; s < rec.steps.size(); ++s)
    for (const auto& span : rec.steps[s].ops)
      mean[static_cast<std::size_t>(span.op)] += static_cast<double>(span.end_ns - span.start_ns) / reps;
  for (auto& v : mean) v = std::max(v, 1.0);
  return mean;
}

void average_over_ranks(CommunicatorFactory& comms, std::vector<double>& v) {
  if (comms.world_size() == 1 || v.empty()) return;
  comms.world().all_reduce_f64(v.data(), static_cast<std::int64_t>(v.size()), ReduceKind::sum);
  for (auto& x : v) x /= comms.world_size();
}

class Progress {
 public:
  Progress(const CalibrationOptions& o, int rank) : o_(o), rank_(rank) {}
  void operator()(const std::string& phase, double fraction) const {
    if (o_.progress && rank_ == 0) o_.progress(phase, fraction);
  }

 private:
  const CalibrationOptions& o_;
  int rank_;
};

// --- memory-bound samples ----------------------------------------------------------------------------

struct MemorySample {
  plan::Plan plan;
  std::function<void(cuda::CudaWorker&)> prepare;
};

std::function<void(cuda::CudaWorker&)> set_ints(TensorId id, std::int64_t count, std::int64_t modulo) {
  return [id, count, modulo](cuda::CudaWorker& w) {
    std::vector<float> v(static_cast<std::size_t>(count));
    for (std::int64_t i = 0; i < count; ++i) v[static_cast<std::size_t>(i)] = static_cast<float>((i * 7919) % modulo);
    w.write_tensor(id, v);
  };
}

// The sample of `key` whose main operand has about `elements` fp32 elements; the keys are those of
// memory_keys() below (the engine falls back to "memory" for any other).
MemorySample memory_sample(const std::string& key, std::int64_t elements) {
  SamplePlan s;
  MemorySample out;
  const std::int64_t cols = std::min<std::int64_t>(4096, std::max<std::int64_t>(elements, 1));
  const std::int64_t rows = std::max<std::int64_t>(1, elements / cols), n = rows * cols;
  auto vec = [&](const char* name, std::int64_t count, DType d = DType::fp32) { return s.tensor(name, d, {count}); };
  auto mat = [&](const char* name, std::int64_t r, std::int64_t c, DType d = DType::fp32) {
    return s.tensor(name, d, {r, c});
  };
  const std::string name = key.rfind("elementwise:", 0) == 0 ? key.substr(12) : "";
  if (name == "residual_add" || key == "memory") {
    s.elementwise("residual_add", {vec("a", n), vec("b", n)}, {vec("out", n)});
  } else if (name == "add_inplace") {
    s.elementwise(name, {vec("a", n)}, {vec("out", n)}, 0.0, {}, true);
  } else if (name == "gelu" || name == "relu" || name == "copy") {
    s.elementwise(name, {vec("x", n)}, {vec("y", n)});
  } else if (name == "gelu_backward" || name == "relu_backward") {
    s.elementwise(name, {vec("x", n), vec("dy", n)}, {vec("dx", n)});
  } else if (name == "swiglu") {
    s.elementwise(name, {mat("x", rows, cols)}, {mat("y", rows, cols / 2)});
  } else if (name == "swiglu_backward") {
    s.elementwise(name, {mat("x", rows, cols), mat("dy", rows, cols / 2)}, {mat("dx", rows, cols)});
  } else if (name == "dropout") {
    s.elementwise(name, {vec("x", n)}, {vec("y", n), vec("mask", n, DType::uint8)}, 0.1);
  } else if (name == "rope" || name == "rope_backward") {
    const std::int64_t heads = 8, d = 64, width = 3 * heads * d, t = std::max<std::int64_t>(1, elements / width);
    s.elementwise(name, {mat("qkv", t, width)}, {mat("out", t, width)}, 10000.0, {1, t, heads, heads, d, 1});
  } else if (name == "bias_grad") {
    s.elementwise(name, {mat("dy", rows, cols)}, {vec("dbias", cols)}, 0.0, {}, true);
  } else if (name == "scale") {
    const TensorId x = vec("x", n);
    s.elementwise(name, {x}, {x}, 0.5);
  } else if (name == "zero") {
    s.elementwise(name, {}, {vec("x", n)});
  } else if (name == "check_finite") {
    s.elementwise(name, {vec("x", n)}, {vec("flag", 1)});
  } else if (name == "grad_norm_sq") {
    s.elementwise(name, {vec("x", n)}, {vec("acc", 1)});
  } else if (key.rfind("norm:", 0) == 0) {
    plan::NormParams np;
    np.type = parse_enum<NormType>(key.substr(5, key.rfind(':') - 5), "key");
    np.direction = parse_enum<Direction>(key.substr(key.rfind(':') + 1), "key");
    np.rows = rows, np.cols = cols;
    const TensorId x = mat("x", rows, cols), g = vec("gamma", cols), b = vec("beta", cols), y = mat("y", rows, cols);
    const TensorId mean = vec("mean", rows), rstd = vec("rstd", rows);
    if (np.direction == Direction::forward) {
      if (np.type == NormType::rmsnorm)
        s.op(OpKind::norm, np, {x, g}, {y, rstd});
      else
        s.op(OpKind::norm, np, {x, g, b}, {y, mean, rstd});
    } else {
      const TensorId dy = mat("dy", rows, cols), dx = mat("dx", rows, cols), dg = vec("dgamma", cols),
                     db = vec("dbeta", cols);
      if (np.type == NormType::rmsnorm)
        s.op(OpKind::norm, np, {dy, x, g, rstd}, {dx, dg});
      else
        s.op(OpKind::norm, np, {dy, x, g, mean, rstd}, {dx, dg, db});
      out.prepare = [rstd, rows](cuda::CudaWorker& w) {
        w.write_tensor(rstd, std::vector<float>(static_cast<std::size_t>(rows), 1.0f));
      };
    }
  } else if (key.rfind("softmax_xent:", 0) == 0) {
    plan::SoftmaxXentParams sp;
    sp.vocab = 32768;
    sp.rows = std::max<std::int64_t>(1, elements / sp.vocab);
    sp.direction = parse_enum<Direction>(key.substr(13), "key");
    const TensorId logits = mat("logits", sp.rows, sp.vocab), targets = vec("targets", sp.rows, DType::int32);
    s.op(OpKind::softmax_xent, sp, {logits, targets},
         {sp.direction == Direction::forward ? vec("losses", sp.rows) : logits});
    out.prepare = set_ints(targets, sp.rows, sp.vocab);
  } else if (key.rfind("embedding:", 0) == 0) {
    plan::EmbeddingParams ep;
    ep.vocab = 32768, ep.dim = 1024, ep.batch = 1, ep.seq = std::max<std::int64_t>(1, elements / 1024);
    ep.learned_positions = false;
    ep.direction = parse_enum<Direction>(key.substr(10), "key");
    const TensorId tokens = mat("tokens", 1, ep.seq, DType::int32), x = mat("x", ep.seq, ep.dim);
    const TensorId wte = mat("wte", ep.vocab, ep.dim);
    if (ep.direction == Direction::forward)
      s.op(OpKind::embedding, ep, {tokens, wte}, {x});
    else
      s.op(OpKind::embedding, ep, {x, tokens}, {wte});
    out.prepare = set_ints(tokens, ep.seq, ep.vocab);
  } else if (key.rfind("optimizer:", 0) == 0) {
    plan::OptimizerParams op;
    op.kind = parse_enum<OptimizerKind>(key.substr(10), "key");
    op.params = n;
    const TensorId g = vec("grad", n, DType::bf16), w = vec("weight", n, DType::bf16), master = vec("master", n),
                   m = vec("m", n);
    if (op.kind == OptimizerKind::adamw)
      s.op(OpKind::optimizer, op, {g}, {w, master, m, vec("v", n)});
    else
      s.op(OpKind::optimizer, op, {g}, {w, master, m});
  } else if (key == "cast") {
    plan::CastParams cp;
    cp.from = DType::fp32, cp.to = DType::bf16, cp.elements = n;
    s.op(OpKind::cast, cp, {vec("x", n)}, {vec("y", n, DType::bf16)});
  } else {
    throw InternalError("internal error: no CUDA calibration sample for " + key);
  }
  out.plan = std::move(s.p);
  return out;
}

std::vector<std::string> memory_keys() {
  std::vector<std::string> keys = {"memory"};
  for (const char* n : {"residual_add", "add_inplace", "gelu", "gelu_backward", "relu", "relu_backward", "swiglu",
                        "swiglu_backward", "dropout", "rope", "rope_backward", "bias_grad", "scale", "zero",
                        "check_finite", "grad_norm_sq", "copy"})
    keys.push_back(std::string("elementwise:") + n);
  for (const char* t : {"layernorm", "rmsnorm"})
    for (const char* d : {"forward", "backward"}) keys.push_back(std::string("norm:") + t + ":" + d);
  for (const char* k : {"softmax_xent:forward", "softmax_xent:backward", "embedding:forward", "embedding:backward",
                        "optimizer:adamw", "optimizer:sgd", "cast"})
    keys.emplace_back(k);
  return keys;
}

std::string iso_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// --- sections ------------------------------------------------------------------------------------------

void calibrate_gemm(CommunicatorFactory& comms, const CalibrationOptions& o, plan::CalibrationProfile& prof,
                    bool fp8, const Progress& progress) {
  std::vector<plan::GemmSample> samples;
  std::vector<double> times;
  std::vector<DType> dtypes;
  for (DType d : o.gemm_dtypes)
    if (fp8 || (d != DType::fp8_e4m3 && d != DType::fp8_e5m2)) dtypes.push_back(d);
  const std::size_t total = dtypes.size() * o.gemm_sizes.size() * o.gemm_sizes.size() * o.gemm_sizes.size();
  for (DType d : dtypes)
    for (std::int64_t m : o.gemm_sizes)
      for (std::int64_t n : o.gemm_sizes)
        for (std::int64_t k : o.gemm_sizes) {
          progress("gemm", static_cast<double>(samples.size()) / static_cast<double>(std::max<std::size_t>(total, 1)));
          SamplePlan s;
          plan::GemmParams g;
          g.m = m, g.n = n, g.k = k, g.dtype = d;
          const bool is8 = d == DType::fp8_e4m3 || d == DType::fp8_e5m2;
          const DType storage = d == DType::tf32 ? DType::fp32 : d;
          const DType out = is8 ? DType::bf16 : storage;
          g.trans_b = is8;  // the layout fp8 tensor cores take directly (weights stored n x k)
          s.op(OpKind::gemm, g, {s.tensor("a", storage, {m, k}), s.tensor("b", storage, is8 ? std::vector<std::int64_t>{n, k} : std::vector<std::int64_t>{k, n})},
               {s.tensor("c", out, {m, n})});
          times.push_back(time_plan(s.p, o)[0]);
          samples.push_back({d, m, n, k, 0.0});
        }
  average_over_ranks(comms, times);
  for (std::size_t i = 0; i < samples.size(); ++i) samples[i].time_ns = times[i];
  prof.gemm = std::move(samples);
}

void calibrate_attention(CommunicatorFactory& comms, const CalibrationOptions& o, plan::CalibrationProfile& prof,
                         const Progress& progress) {
  std::vector<plan::AttentionSample> samples;
  std::vector<double> times;
  const std::int64_t h = o.attention_heads;
  std::size_t done = 0;
  const std::size_t total = o.attention_dtypes.size() * o.attention_seqs.size() * o.attention_head_dims.size() * 2;
  for (DType d : o.attention_dtypes)
    for (std::int64_t t : o.attention_seqs)
      for (std::int64_t hd : o.attention_head_dims)
        for (bool flash : {true, false}) {
          progress("attention", static_cast<double>(done++) / static_cast<double>(std::max<std::size_t>(total, 1)));
          SamplePlan s;
          plan::AttentionParams ap;
          ap.batch = 1, ap.heads = h, ap.kv_heads = h, ap.seq_q = t, ap.seq_kv = t, ap.head_dim = hd;
          ap.causal = true, ap.flash = flash, ap.dtype = d;
          const TensorId qkv = s.tensor("qkv", d, {1, t, 3 * h * hd}), out = s.tensor("out", d, {1, t, h * hd});
          const TensorId dout = s.tensor("dout", d, {1, t, h * hd}), dqkv = s.tensor("dqkv", d, {1, t, 3 * h * hd});
          if (flash) {
            const TensorId lse = s.tensor("lse", DType::fp32, {1, h, t});
            s.op(OpKind::attention, ap, {qkv}, {out, lse});
            ap.direction = Direction::backward;
            s.op(OpKind::attention, ap, {dout, qkv, out, lse}, {dqkv});
          } else {
            const TensorId probs = s.tensor("probs", d, {1, h, t, t});
            s.op(OpKind::attention, ap, {qkv}, {out, probs});
            ap.direction = Direction::backward;
            s.op(OpKind::attention, ap, {dout, qkv, probs}, {dqkv});
          }
          const std::vector<double> tm = time_plan(s.p, o);
          for (Direction dir : {Direction::forward, Direction::backward}) {
            samples.push_back({d, 1, h, h, t, hd, true, flash, dir, 0.0});
            times.push_back(tm[dir == Direction::forward ? 0 : 1]);
          }
        }
  average_over_ranks(comms, times);
  for (std::size_t i = 0; i < samples.size(); ++i) samples[i].time_ns = times[i];
  prof.attention = std::move(samples);
}

void calibrate_memory(CommunicatorFactory& comms, const CalibrationOptions& o, plan::CalibrationProfile& prof,
                      const Progress& progress) {
  const auto keys = memory_keys();
  std::vector<std::pair<std::string, std::int64_t>> which;
  std::vector<double> times;
  std::size_t done = 0;
  for (const auto& key : keys)
    for (std::int64_t bytes : o.memory_bytes) {
      progress("memory", static_cast<double>(done++) / static_cast<double>(keys.size() * o.memory_bytes.size()));
      MemorySample sample = memory_sample(key, std::max<std::int64_t>(1, bytes / 4));
      const std::vector<double> t = time_plan(sample.plan, o, sample.prepare);
      which.emplace_back(key, plan::op_bytes(sample.plan, sample.plan.programs[0].ops[0]));
      times.push_back(t[0]);
    }
  average_over_ranks(comms, times);
  for (std::size_t i = 0; i < which.size(); ++i)
    if (which[i].second > 0) prof.memory[which[i].first].push_back({which[i].second, times[i]});
}

double measure_overhead(CommunicatorFactory& comms, const CalibrationOptions& o) {
  SamplePlan s;
  const TensorId x = s.tensor("x", DType::fp32, {1});
  s.elementwise("scale", {x}, {x}, 1.0);
  CalibrationOptions many = o;
  many.min_repeats = std::max(o.min_repeats, 20);
  std::vector<double> v = {time_plan(s.p, many)[0]};
  average_over_ranks(comms, v);
  return v[0];
}

// Device buffers of one communication benchmark.
struct DeviceBuffers {
  void* a = nullptr;
  void* b = nullptr;
  explicit DeviceBuffers(std::size_t bytes) {
    CUDA_CHECK(cudaMalloc(&a, std::max<std::size_t>(bytes, 256)));
    CUDA_CHECK(cudaMalloc(&b, std::max<std::size_t>(bytes, 256)));
    CUDA_CHECK(cudaMemset(a, 0, std::max<std::size_t>(bytes, 256)));
    CUDA_CHECK(cudaMemset(b, 0, std::max<std::size_t>(bytes, 256)));
  }
  ~DeviceBuffers() {
    (void)cudaFree(a);
    (void)cudaFree(b);
  }
};

struct StreamEvents {
  cudaStream_t stream = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;
  StreamEvents() {
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    CUDA_CHECK(cudaEventCreate(&start));
    CUDA_CHECK(cudaEventCreate(&stop));
  }
  ~StreamEvents() {
    (void)cudaEventDestroy(start);
    (void)cudaEventDestroy(stop);
    (void)cudaStreamDestroy(stream);
  }
  // Mean ns per repetition of f on the stream (after one warm-up).
  double time(int reps, const std::function<void()>& f) const {
    f();
    CUDA_CHECK(cudaEventRecord(start, stream));
    for (int r = 0; r < reps; ++r) f();
    CUDA_CHECK(cudaEventRecord(stop, stream));
    CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0.0f;
    CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    return static_cast<double>(ms) * 1e6 / reps;
  }
};

void calibrate_comm(CommunicatorFactory& comms, const CalibrationOptions& o, plan::CalibrationProfile& prof,
                    const Progress& progress) {
  const int world = comms.world_size(), me = comms.world_rank();
  const auto hosts = comms.world().gather_strings(detail::host_name(), 0);
  std::vector<int> sizes;
  for (int n = 2; n < world; n *= 2) sizes.push_back(n);
  sizes.push_back(world);
  std::vector<double> intra(sizes.size(), 0.0);
  if (me == 0)
    for (std::size_t i = 0; i < sizes.size(); ++i)
      intra[i] = std::all_of(hosts.begin(), hosts.begin() + sizes[i], [&](const std::string& h) { return h == hosts[0]; })
                     ? 1.0
                     : 0.0;
  comms.world().all_reduce_f64(intra.data(), static_cast<std::int64_t>(intra.size()), ReduceKind::sum);
  const std::int64_t max_bytes = o.comm_bytes.empty() ? 0 : *std::max_element(o.comm_bytes.begin(), o.comm_bytes.end());
  DeviceBuffers buf(static_cast<std::size_t>(max_bytes));
  StreamEvents se;
  const CollectiveType types[] = {CollectiveType::all_reduce,     CollectiveType::all_gather,
                                  CollectiveType::reduce_scatter, CollectiveType::broadcast,
                                  CollectiveType::reduce,         CollectiveType::all_to_all};
  std::size_t done = 0;
  for (std::size_t si = 0; si < sizes.size(); ++si) {
    const int n = sizes[si];
    plan::Group g;
    g.kind = GroupKind::world;
    for (int r = 0; r < n; ++r) g.ranks.push_back(r);
    const bool member = me < n;
    auto mpi = comms.create(GroupKind::world, member ? &g : nullptr, member ? me : 0);
    auto dev = cuda::detail::make_device_communicator(*mpi, member ? n : 1, member ? me : 0, {7},
                                                      "calibration group of " + std::to_string(n));
    for (std::int64_t bytes : o.comm_bytes) {
      const std::int64_t count = std::max<std::int64_t>(n, bytes / 4 / n * n);
      const int reps = static_cast<int>(std::clamp<std::int64_t>((std::int64_t{1} << 28) / std::max<std::int64_t>(bytes, 1), 5, 50));
      for (CollectiveType type : types) {
        progress("collectives", static_cast<double>(done++) /
                                    static_cast<double>(sizes.size() * o.comm_bytes.size() * std::size(types)));
        double t = 0.0;
        if (member) {
          t = se.time(reps, [&] {
            switch (type) {
              case CollectiveType::all_reduce:
                dev->all_reduce(buf.a, count, DType::fp32, ReduceKind::sum, se.stream);
                break;
              case CollectiveType::all_gather:
                dev->all_gather(buf.a, buf.b, count / n, DType::fp32, se.stream);
                break;
              case CollectiveType::reduce_scatter:
                dev->reduce_scatter(buf.a, buf.b, count / n, DType::fp32, ReduceKind::sum, se.stream);
                break;
              case CollectiveType::broadcast:
                dev->broadcast(buf.a, count, DType::fp32, 0, se.stream);
                break;
              case CollectiveType::reduce:
                dev->reduce(buf.a, count, DType::fp32, ReduceKind::sum, 0, se.stream);
                break;
              case CollectiveType::all_to_all:
                dev->all_to_all(buf.a, buf.b, count / n, DType::fp32, se.stream);
                break;
            }
          });
        }
        comms.world().all_reduce_f64(&t, 1, ReduceKind::max);
        prof.collectives.push_back(
            {type, n, count * 4, t, intra[si] > 0.5 ? plan::Placement::intra : plan::Placement::inter, DType::fp32, {}});
      }
    }
    if (n == 2 || (n == world && sizes.size() == 1)) {
      for (std::int64_t bytes : o.comm_bytes) {
        const int reps = static_cast<int>(std::clamp<std::int64_t>((std::int64_t{1} << 28) / std::max<std::int64_t>(bytes, 1), 5, 50));
        double t = 0.0;
        if (me < 2)
          t = se.time(reps, [&] {
                if (me == 0) {
                  dev->send(buf.a, bytes, 1, 7, se.stream);
                  dev->recv(buf.b, bytes, 1, 7, se.stream);
                } else {
                  dev->recv(buf.b, bytes, 0, 7, se.stream);
                  dev->send(buf.a, bytes, 0, 7, se.stream);
                }
              }) /
              2.0;
        comms.world().all_reduce_f64(&t, 1, ReduceKind::max);
        prof.p2p.push_back({bytes, t});
      }
    }
  }
}

// GEMM time alone and while communication (or a device-to-device copy) keeps another stream busy.
double calibrate_overlap(CommunicatorFactory& comms) {
  const std::int64_t size = 4096;
  const std::size_t gemm_bytes = static_cast<std::size_t>(size * size) * 2;
  DeviceBuffers a(gemm_bytes), c(gemm_bytes);
  cuda::GemmEngine gemm;
  struct Scratch final : cuda::DeviceScratch {
    void* data = nullptr;
    std::size_t cap = 0;
    ~Scratch() override { (void)cudaFree(data); }
    void* get(std::size_t bytes) override {
      if (bytes > cap) {
        (void)cudaFree(data);
        CUDA_CHECK(cudaMalloc(&data, bytes));
        cap = bytes;
      }
      return data;
    }
  } scratch;
  StreamEvents compute, traffic;
  const cpu::GemmShape shape{.m = size, .n = size, .k = size};
  auto once = [&] {
    gemm.run(shape, DType::bf16, {{a.a, DType::bf16}, {a.b, DType::bf16}, {}, {c.a, DType::bf16}}, scratch,
             compute.stream);
  };
  CUDA_CHECK(cudaDeviceSynchronize());
  const double alone = compute.time(20, once);
  const int world = comms.world_size();
  std::unique_ptr<Communicator> mpi;
  std::unique_ptr<cuda::detail::DeviceCommunicator> dev;
  const std::size_t comm_bytes = std::size_t{1} << 28;
  DeviceBuffers comm_buf(comm_bytes);
  if (world > 1) {
    plan::Group g;
    g.kind = GroupKind::world;
    for (int r = 0; r < world; ++r) g.ranks.push_back(r);
    mpi = comms.create(GroupKind::world, &g, comms.world_rank());
    dev = cuda::detail::make_device_communicator(*mpi, world, comms.world_rank(), {}, "overlap calibration");
    comms.world().barrier();
  }
  for (int i = 0; i < 8; ++i) {
    if (dev)
      dev->all_reduce(comm_buf.a, static_cast<std::int64_t>(comm_bytes / 4), DType::fp32, ReduceKind::sum,
                      traffic.stream);
    else
      CUDA_CHECK(cudaMemcpyAsync(comm_buf.b, comm_buf.a, comm_bytes, cudaMemcpyDeviceToDevice, traffic.stream));
  }
  const double with = compute.time(20, once);
  CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<double> ratio = {std::max(1.0, with / alone)};
  average_over_ranks(comms, ratio);
  return ratio[0];
}

}  // namespace

CalibrationOptions cuda_calibration_defaults() {
  CalibrationOptions o;
  o.gemm_dtypes = {DType::fp32, DType::tf32, DType::bf16, DType::fp16, DType::fp8_e4m3};
  o.gemm_sizes = {256, 1024, 4096, 8192};
  o.attention_dtypes = {DType::bf16, DType::fp16};
  o.attention_heads = 16;
  o.attention_seqs = {512, 1024, 2048, 4096};
  o.attention_head_dims = {64, 128};
  o.memory_bytes = {1 << 20, 1 << 24, 1 << 28, 1 << 30};
  o.comm_bytes = {1 << 16, 1 << 20, 1 << 24, 1 << 28, 1 << 30};
  o.min_sample_s = 0.02;
  o.min_repeats = 5;
  o.max_repeats = 100;
  return o;
}

plan::CalibrationProfile calibrate_cuda(CommunicatorFactory& comms, const CalibrationOptions& o) {
  std::string why;
  if (!cuda_available(&why)) throw Error(why);
  const Progress progress(o, comms.world_rank());
  plan::CalibrationProfile prof;
  prof.backend = "cuda";
  prof.created = iso_now();
  {
    // select this rank's device as a worker would, through a throwaway worker on an empty plan
    SamplePlan s;
    const TensorId x = s.tensor("x", DType::fp32, {1});
    s.elementwise("zero", {}, {x});
    auto local = make_local_communicators();
    cuda::CudaWorker w(s.p, *local, RunOptions{});
    const cuda::detail::DeviceInfo& info = cuda::detail::current_device_info();
    prof.device = info.name + " (compute capability " + std::to_string(info.cc_major) + "." +
                  std::to_string(info.cc_minor) + ", " + std::to_string(info.sm_count) + " SMs)";
  }
  const bool fp8 = cuda::detail::current_device_info().compute_capability() >= 89;
  comms.world().barrier();
  prof.kernel_overhead_ns = measure_overhead(comms, o);
  if (o.gemm) calibrate_gemm(comms, o, prof, fp8, progress);
  if (o.attention) calibrate_attention(comms, o, prof, progress);
  if (o.memory) calibrate_memory(comms, o, prof, progress);
  if (o.collectives && comms.world_size() > 1) calibrate_comm(comms, o, prof, progress);
  if (o.overlap) prof.overlap_compute_slowdown = calibrate_overlap(comms);
  progress("done", 1.0);
  return prof;
}

}  // namespace clustersim::executor
