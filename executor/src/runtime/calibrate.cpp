// calibrate_cpu: single-op plans timed through the Worker (sequential, one rank-local Worker per
// sample), collectives and p2p timed on the communicators, and the compute slowdown under a busy
// communication thread. See calibrate.hpp for what is measured.
#include "clustersim/executor/calibrate.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <set>
#include <thread>
#include <tuple>

#include "clustersim/executor/cpu/gemm.hpp"
#include "clustersim/executor/rng.hpp"
#include "clustersim/executor/thread_priority.hpp"
#include "clustersim/executor/worker.hpp"
#include "clustersim/plan/error.hpp"
#include "run_dir.hpp"

namespace clustersim::executor {

using plan::OpId;
using plan::TensorId;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// A one-program plan for calibration samples: every tensor persistent, ops on one stream.
struct SamplePlan {
  plan::Plan p;
  SamplePlan() {
    p.world_size = 1;
    p.programs.push_back({});
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
  // Elementwise with the natural declared traffic: inputs read, outputs written (and read when
  // the kernel updates them in place).
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

// Spread of the values calibration samples compute on. Some kernels take data-dependent time (the
// tanh of GELU, the exp of softmax and SwiGLU branch on the magnitude of their argument), so samples
// use values like a network's at initialisation: normal, with the spread of a linear layer's output
// on unit-variance inputs, 0.02 * sqrt(h) ~ 0.3 for the widths h = 128..256 of the CPU models.
constexpr double kSampleSpread = 0.3;

// Fills float tensors with deterministic N(0, kSampleSpread^2) values, leaves the rest to `prepare`.
void fill_floats(Worker& w, const plan::Plan& p) {
  for (const auto& t : p.tensors) {
    if (t.view_of != plan::kNone || t.dtype == DType::int32 || t.dtype == DType::uint8 || t.dtype == DType::int64)
      continue;
    std::vector<float> v(static_cast<std::size_t>(t.elements()));
    const std::uint64_t key = derive_key(0xCA11B8A7Eull, static_cast<std::uint64_t>(t.id));
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(kSampleSpread * normal01(key, i));
    w.write_tensor(t.id, v);
  }
}

double median_of(std::vector<double> v);

struct Timing {
  std::vector<double> mean_ns;  // per op of the sample plan: the median over the repeats
};

// Runs the sample plan repeatedly; the median span per op over the repeats after the first (a
// repeat preempted by the host, or faulting pages back in, does not move it).
Timing time_plan(const plan::Plan& p, const CalibrationOptions& o, const std::function<void(Worker&)>& prepare = {}) {
  auto comms = make_local_communicators();
  RunOptions ro;
  ro.threading = StreamThreading::sequential;
  ro.blas_threads = o.blas_threads;
  ro.warmup_steps = 0;
  ro.timeline_max_samples = 1;
  Worker w(p, *comms, ro);
  fill_floats(w, p);
  if (prepare) prepare(w);
  w.run_step();  // warm caches and pages
  const auto& ops = p.programs[0].ops;
  auto op_time = [&](const StepRecord& s) {
    double t = 0.0;
    for (const auto& span : s.ops) t += static_cast<double>(span.end_ns - span.start_ns);
    return t;
  };
  const double first = std::max(1.0, op_time(w.record().steps.back()));
  const int reps = std::clamp(static_cast<int>(std::ceil(o.min_sample_s * 1e9 / first)), o.min_repeats, o.max_repeats);
  for (int r = 0; r < reps; ++r) w.run_step();
  const RankRecord rec = w.record();
  std::vector<std::vector<double>> samples(ops.size());
  for (std::size_t s = 1; s < rec.steps.size(); ++s)
    for (const auto& span : rec.steps[s].ops)
      samples[static_cast<std::size_t>(span.op)].push_back(static_cast<double>(span.end_ns - span.start_ns));
  Timing t;
  for (auto& v : samples) {
    std::sort(v.begin(), v.end());
    t.mean_ns.push_back(std::max(v.empty() ? 1.0 : v[v.size() / 2], 1.0));
  }
  return t;
}

// --- memory-bound sample plans -------------------------------------------------------------------------

struct MemorySample {
  std::string key;
  plan::Plan plan;
  std::function<void(Worker&)> prepare;
};

// Builds the sample of `key` whose main operand has about `elements` fp32 elements.
// `f`: the storage dtype of the sample's activations, parameters and gradients.
MemorySample memory_sample(const std::string& key, std::int64_t elements, DType f = DType::fp32) {
  SamplePlan s;
  MemorySample out;
  out.key = key;
  const std::int64_t cols = std::min<std::int64_t>(1024, std::max<std::int64_t>(elements, 1));
  const std::int64_t rows = std::max<std::int64_t>(1, elements / cols), n = rows * cols;
  // Statistics, flags and losses stay fp32 in every plan; the rest is stored in `f`.
  const DType f32 = DType::fp32;
  auto vec = [&](const char* name, std::int64_t count, DType d = DType::fp32) {
    return s.tensor(name, d == f32 ? f : d, {count});
  };
  auto stat = [&](const char* name, std::int64_t count) { return s.tensor(name, f32, {count}); };
  auto mat = [&](const char* name, std::int64_t r, std::int64_t c, DType d = DType::fp32) {
    return s.tensor(name, d == f32 ? f : d, {r, c});
  };
  auto set_ints = [](TensorId id, std::int64_t count, std::int64_t modulo) {
    return [id, count, modulo](Worker& w) {
      std::vector<float> v(static_cast<std::size_t>(count));
      for (std::int64_t i = 0; i < count; ++i) v[static_cast<std::size_t>(i)] = static_cast<float>((i * 7919) % modulo);
      w.write_tensor(id, v);
    };
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
  } else if (name == "dropout_backward") {
    const TensorId mask = vec("mask", n, DType::uint8);
    s.elementwise(name, {vec("dy", n), mask}, {vec("dx", n)}, 0.1);
    out.prepare = set_ints(mask, n, 2);
  } else if (name == "rope" || name == "rope_backward") {
    const std::int64_t heads = 4, d = 64, width = 3 * heads * d, t = std::max<std::int64_t>(1, elements / width);
    s.elementwise(name, {mat("qkv", t, width)}, {mat("out", t, width)}, 10000.0, {1, t, heads, heads, d, 1});
  } else if (name == "bias_grad") {
    s.elementwise(name, {mat("dy", rows, cols)}, {vec("dbias", cols)}, 0.0, {}, true);
  } else if (name == "bias_add") {
    const TensorId x = mat("x", rows, cols);
    s.elementwise(name, {x, vec("bias", cols)}, {x}, 0.0, {}, false);
  } else if (name == "position_add") {
    const TensorId x = mat("x", rows, cols);
    s.elementwise(name, {x, mat("wpe", rows, cols)}, {x}, 0.0, {1, rows, cols, 1});
  } else if (name == "position_add_backward") {
    s.elementwise(name, {mat("dx", rows, cols)}, {mat("dwpe", rows, cols)}, 0.0, {1, rows, cols, 1}, true);
  } else if (name.rfind("xent_parallel", 0) == 0) {
    const std::int64_t v = 4096, r = std::max<std::int64_t>(1, elements / v);
    const TensorId logits = mat("logits", r, v), max = stat("max", r), stats = stat("stats", 2 * r);
    const TensorId targets = vec("targets", r, DType::int32);
    if (name == "xent_parallel_max") s.elementwise(name, {logits}, {max});
    if (name == "xent_parallel_stats") s.elementwise(name, {logits, max, targets}, {stats});
    if (name == "xent_parallel_loss") s.elementwise(name, {stats, max}, {stat("losses", r)});
    if (name == "xent_parallel_backward") s.elementwise(name, {logits, targets, max, stats}, {logits}, 1.0);
    out.prepare = [set = set_ints(targets, r, v), stats, r](Worker& w) {
      set(w);
      w.write_tensor(stats, std::vector<float>(static_cast<std::size_t>(2 * r), 100.0f));
    };
  } else if (name == "scale") {
    const TensorId x = vec("x", n);
    s.elementwise(name, {x}, {x}, 0.5);
  } else if (name == "zero") {
    s.elementwise(name, {}, {vec("x", n)});
  } else if (name == "check_finite") {
    s.elementwise(name, {vec("x", n)}, {stat("flag", 1)});
  } else if (name == "grad_norm_sq") {
    s.elementwise(name, {vec("x", n)}, {stat("acc", 1)});
  } else if (name == "clip_by_norm") {
    const TensorId norm = stat("norm_sq", 1);
    s.elementwise(name, {norm}, {vec("x", n)}, 1.0, {}, true);
    out.prepare = [norm](Worker& w) { w.write_tensor(norm, {4.0f}); };
  } else if (name == "maxpool" || name == "maxpool_backward" || name == "global_avgpool" ||
             name == "global_avgpool_backward") {
    const std::int64_t c = 64, hw = std::max<std::int64_t>(
                                   2, static_cast<std::int64_t>(std::sqrt(static_cast<double>(elements / c))));
    const std::vector<std::int64_t> dims = {1, hw, hw, c};
    const std::int64_t p = (hw - 1) / 2 + 1;
    if (name == "maxpool")
      s.elementwise(name, {s.tensor("x", f, dims)},
                    {s.tensor("y", f, {1, p, p, c}), s.tensor("argmax", DType::int32, {1, p, p, c})}, 0.0, dims);
    if (name == "maxpool_backward") {
      const TensorId argmax = s.tensor("argmax", DType::int32, {1, p, p, c});
      s.elementwise(name, {s.tensor("dy", f, {1, p, p, c}), argmax}, {s.tensor("dx", f, dims)}, 0.0, dims);
      out.prepare = set_ints(argmax, p * p * c, hw * hw * c);
    }
    if (name == "global_avgpool") s.elementwise(name, {s.tensor("x", f, dims)}, {mat("y", 1, c)}, 0.0, dims);
    if (name == "global_avgpool_backward") s.elementwise(name, {mat("dy", 1, c)}, {s.tensor("dx", f, dims)}, 0.0, dims);
  } else if (key.rfind("norm:", 0) == 0) {
    plan::NormParams np;
    np.type = parse_enum<NormType>(key.substr(5, key.rfind(':') - 5), "key");
    np.direction = parse_enum<Direction>(key.substr(key.rfind(':') + 1), "key");
    const std::int64_t c = np.type == NormType::batchnorm ? 64 : cols, r = std::max<std::int64_t>(1, elements / c);
    np.rows = r, np.cols = c;
    const std::int64_t stats = np.type == NormType::batchnorm ? c : r;
    const TensorId x = mat("x", r, c), g = vec("gamma", c), b = vec("beta", c), y = mat("y", r, c);
    const TensorId mean = stat("mean", stats), rstd = stat("rstd", stats);
    if (np.direction == Direction::forward) {
      if (np.type == NormType::rmsnorm)
        s.op(OpKind::norm, np, {x, g}, {y, rstd});
      else
        s.op(OpKind::norm, np, {x, g, b}, {y, mean, rstd});
    } else {
      const TensorId dy = mat("dy", r, c), dx = mat("dx", r, c), dg = vec("dgamma", c), db = vec("dbeta", c);
      if (np.type == NormType::rmsnorm)
        s.op(OpKind::norm, np, {dy, x, g, rstd}, {dx, dg});
      else
        s.op(OpKind::norm, np, {dy, x, g, mean, rstd}, {dx, dg, db});
      out.prepare = [rstd, stats](Worker& w) {
        w.write_tensor(rstd, std::vector<float>(static_cast<std::size_t>(stats), 1.0f));
      };
    }
  } else if (key.rfind("softmax_xent:", 0) == 0) {
    plan::SoftmaxXentParams sp;
    sp.vocab = 4096;
    sp.rows = std::max<std::int64_t>(1, elements / sp.vocab);
    sp.direction = parse_enum<Direction>(key.substr(13), "key");
    const TensorId logits = mat("logits", sp.rows, sp.vocab), targets = vec("targets", sp.rows, DType::int32);
    s.op(OpKind::softmax_xent, sp, {logits, targets},
         {sp.direction == Direction::forward ? stat("losses", sp.rows) : logits});
    out.prepare = set_ints(targets, sp.rows, sp.vocab);
  } else if (key.rfind("embedding:", 0) == 0) {
    plan::EmbeddingParams ep;
    // The table as large as the activations (vocabulary = rows), as in the byte-vocabulary CPU models,
    // so op bytes grow with the work instead of being dominated by a fixed table.
    ep.dim = 256, ep.batch = 1, ep.seq = std::max<std::int64_t>(1, elements / 256);
    ep.vocab = std::max<std::int64_t>(16, ep.seq);
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
    const TensorId g = vec("grad", n), w = vec("weight", n), m = vec("m", n);
    if (op.kind == OptimizerKind::adamw) {
      const TensorId v = vec("v", n);
      s.op(OpKind::optimizer, op, {g}, {w, w, m, v});
      // A second moment is non-negative (a negative one would send sqrt down its slow error path).
      out.prepare = [v](Worker& wk) {
        std::vector<float> sq = wk.read_tensor(v);
        for (auto& x : sq) x = x * x;
        wk.write_tensor(v, sq);
      };
    } else {
      s.op(OpKind::optimizer, op, {g}, {w, w, m});
    }
  } else if (key == "cast") {
    plan::CastParams cp;
    cp.from = DType::fp32, cp.to = DType::bf16, cp.elements = n;
    s.op(OpKind::cast, cp, {vec("x", n)}, {vec("y", n, DType::bf16)});
  } else {
    throw InternalError("internal error: no calibration sample for " + key);
  }
  out.plan = std::move(s.p);
  return out;
}

std::vector<std::string> memory_keys() {
  std::vector<std::string> keys = {"memory"};
  for (const char* n : {"residual_add",
                        "add_inplace",
                        "gelu",
                        "gelu_backward",
                        "relu",
                        "relu_backward",
                        "swiglu",
                        "swiglu_backward",
                        "dropout",
                        "dropout_backward",
                        "rope",
                        "rope_backward",
                        "bias_grad",
                        "bias_add",
                        "position_add",
                        "position_add_backward",
                        "xent_parallel_max",
                        "xent_parallel_stats",
                        "xent_parallel_loss",
                        "xent_parallel_backward",
                        "scale",
                        "zero",
                        "check_finite",
                        "grad_norm_sq",
                        "clip_by_norm",
                        "copy",
                        "maxpool",
                        "maxpool_backward",
                        "global_avgpool",
                        "global_avgpool_backward"})
    keys.push_back(std::string("elementwise:") + n);
  for (const char* t : {"layernorm", "rmsnorm", "batchnorm"})
    for (const char* d : {"forward", "backward"}) keys.push_back(std::string("norm:") + t + ":" + d);
  for (const char* k : {"softmax_xent:forward", "softmax_xent:backward", "embedding:forward", "embedding:backward",
                        "optimizer:adamw", "optimizer:sgd", "cast"})
    keys.emplace_back(k);
  return keys;
}

std::string cpu_description(int blas_threads) {
  std::ifstream in("/proc/cpuinfo");
  std::string line, model = "CPU";
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  return model + " (" + std::to_string(std::thread::hardware_concurrency()) + " hardware threads, " +
         std::to_string(blas_threads) + " BLAS thread(s) per rank)";
}

std::string iso_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// Averages a vector of sample times over the ranks (every rank measured the same list).
void average_over_ranks(CommunicatorFactory& comms, std::vector<double>& v) {
  if (comms.world_size() == 1 || v.empty()) return;
  comms.world().all_reduce_f64(v.data(), static_cast<std::int64_t>(v.size()), ReduceKind::sum);
  for (auto& x : v) x /= comms.world_size();
}

// Each rank's total of `times` (the same samples on every rank, measured at once) over the mean of
// the ranks' totals: plan::CalibrationProfile::rank_compute_factor. Empty on one rank.
std::vector<double> rank_factors(CommunicatorFactory& comms, const std::vector<double>& times) {
  const int n = comms.world_size();
  if (n == 1) return {};
  std::vector<double> totals(static_cast<std::size_t>(n), 0.0);
  for (double t : times) totals[static_cast<std::size_t>(comms.world_rank())] += t;
  comms.world().all_reduce_f64(totals.data(), n, ReduceKind::sum);
  double mean = 0.0;
  for (double t : totals) mean += t / n;
  if (!(mean > 0.0)) return {};
  for (auto& t : totals) t /= mean;
  return totals;
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

// --- sections ------------------------------------------------------------------------------------------

void calibrate_gemm(CommunicatorFactory& comms, const CalibrationOptions& o, plan::CalibrationProfile& prof,
                    const Progress& progress) {
  std::vector<plan::GemmSample> samples;
  std::vector<double> times;
  const std::size_t total = o.gemm_dtypes.size() * o.gemm_sizes.size() * o.gemm_sizes.size() * o.gemm_sizes.size();
  for (DType d : o.gemm_dtypes)
    for (std::int64_t m : o.gemm_sizes)
      for (std::int64_t n : o.gemm_sizes)
        for (std::int64_t k : o.gemm_sizes) {
          progress("gemm", static_cast<double>(samples.size()) / static_cast<double>(total));
          SamplePlan s;
          plan::GemmParams g;
          g.m = m, g.n = n, g.k = k, g.dtype = d;
          s.op(OpKind::gemm, g, {s.tensor("a", d, {m, k}), s.tensor("b", d, {k, n})}, {s.tensor("c", d, {m, n})});
          times.push_back(time_plan(s.p, o).mean_ns[0]);
          samples.push_back({d, m, n, k, 0.0});
        }
  if (o.targets.empty()) prof.rank_compute_factor = rank_factors(comms, times);
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
          progress("attention", static_cast<double>(done++) / static_cast<double>(total));
          const bool causal = true;
          SamplePlan s;
          plan::AttentionParams ap;
          ap.batch = 1, ap.heads = h, ap.kv_heads = h, ap.seq_q = t, ap.seq_kv = t, ap.head_dim = hd;
          ap.causal = causal, ap.flash = flash, ap.dtype = d;
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
          const Timing tm = time_plan(s.p, o);
          for (Direction dir : {Direction::forward, Direction::backward}) {
            samples.push_back({d, 1, h, h, t, hd, causal, flash, dir, 0.0});
            times.push_back(tm.mean_ns[dir == Direction::forward ? 0 : 1]);
          }
        }
  average_over_ranks(comms, times);
  for (std::size_t i = 0; i < samples.size(); ++i) samples[i].time_ns = times[i];
  prof.attention = std::move(samples);
}

void calibrate_memory(CommunicatorFactory& comms, const CalibrationOptions& o, plan::CalibrationProfile& prof,
                      const Progress& progress) {
  // Kinds whose storage dtype follows the model's precision; the optimizer (fp32 master weights)
  // and casts (their dtypes are their parameters) are sampled in fp32 only.
  auto per_dtype = [](const std::string& key) {
    for (const char* prefix : {"elementwise:", "norm:", "softmax_xent:", "embedding:"})
      if (key.rfind(prefix, 0) == 0) return true;
    return key == "memory";
  };
  std::vector<std::pair<std::string, DType>> jobs;
  for (DType d : o.memory_dtypes)
    for (const auto& key : memory_keys())
      if (d == DType::fp32 || per_dtype(key)) jobs.emplace_back(key, d);
  std::vector<std::pair<std::string, std::int64_t>> which;
  std::vector<double> times;
  std::size_t done = 0;
  for (const auto& [key, dtype] : jobs) {
    const std::string stored = dtype == DType::fp32 ? key : key + "@" + std::string(to_string(dtype));
    for (std::int64_t bytes : o.memory_bytes) {
      progress("memory", static_cast<double>(done++) / static_cast<double>(jobs.size() * o.memory_bytes.size()));
      MemorySample sample = memory_sample(key, std::max<std::int64_t>(1, bytes / 4), dtype);
      Timing t;
      try {
        t = time_plan(sample.plan, o, sample.prepare);
      } catch (const InputError&) {
        // The kernel does not take this dtype combination (every rank skips it alike): lookups of
        // such ops fall back to the fp32 samples.
        if (dtype == DType::fp32) throw;
        break;
      }
      which.emplace_back(stored, plan::op_bytes(sample.plan, sample.plan.programs[0].ops[0]));
      times.push_back(t.mean_ns[0]);
    }
  }
  average_over_ranks(comms, times);
  for (std::size_t i = 0; i < which.size(); ++i)
    if (which[i].second > 0) prof.memory[which[i].first].push_back({which[i].second, times[i]});
}

// Kernel overhead: the smallest op the worker can run.
double measure_overhead(CommunicatorFactory& comms, const CalibrationOptions& o) {
  SamplePlan s;
  const TensorId x = s.tensor("x", DType::fp32, {1});
  s.elementwise("zero", {}, {x});
  CalibrationOptions many = o;
  many.min_repeats = std::max(o.min_repeats, 20);
  std::vector<double> v = {time_plan(s.p, many).mean_ns[0]};
  average_over_ranks(comms, v);
  return v[0];
}

// --- targeted calibration: the exact ops, collectives and transfers of given plans ------------------

// A one-op plan running a copy of `op` of `src` on fresh, persistent tensors of the same dtypes and
// shapes (an input that is also an output stays one tensor), named like the original op.
plan::Plan exact_op_plan(const plan::Plan& src, const plan::Op& op) {
  SamplePlan s;
  std::map<TensorId, TensorId> clone;
  auto map = [&](TensorId id) {
    if (const auto it = clone.find(id); it != clone.end()) return it->second;
    const plan::Tensor& t = src.tensors.at(static_cast<std::size_t>(id));
    std::vector<std::int64_t> shape = t.shape;
    if (shape.empty()) shape = {std::max<std::int64_t>(1, t.bytes / dtype_bytes(t.dtype))};
    return clone[id] = s.tensor(t.name, t.dtype, shape);
  };
  std::vector<TensorId> in, out;
  for (TensorId id : op.inputs) in.push_back(map(id));
  for (TensorId id : op.outputs) out.push_back(map(id));
  const OpId id = s.op(op.kind, op.params, std::move(in), std::move(out));
  s.p.programs[0].ops[static_cast<std::size_t>(id)].name = op.name;
  return std::move(s.p);
}

// Values that keep a cloned op on the path a training step takes (fill_floats gives every float
// tensor N(0, 0.3^2); integers stay 0, a valid token, target and index): a clear non-finite flag
// (a set one skips the optimizer update), non-negative second moments and norms (a negative one
// sends sqrt down its slow error path), positive softmax sums.
void prepare_exact(Worker& w, const plan::Plan& p) {
  const plan::Op& op = p.programs[0].ops[0];
  auto transform = [&](TensorId id, const std::function<float(float)>& f) {
    std::vector<float> v = w.read_tensor(id);
    for (auto& x : v) x = f(x);
    w.write_tensor(id, v);
  };
  const auto positive = [](float x) { return std::fabs(x) + 1.0f; };
  if (op.kind == OpKind::optimizer) {
    const auto& q = std::get<plan::OptimizerParams>(op.params);
    if (q.found_inf && op.inputs.size() > 1) transform(op.inputs[1], [](float) { return 0.0f; });
    if (q.kind == OptimizerKind::adamw && op.outputs.size() > 3) transform(op.outputs[3], [](float x) { return x * x; });
  } else if (op.kind == OpKind::elementwise) {
    const std::string& name = std::get<plan::ElementwiseParams>(op.params).name;
    if (name == "clip_by_norm" && !op.inputs.empty()) transform(op.inputs[0], positive);
    if (name == "xent_parallel_loss" && !op.inputs.empty()) transform(op.inputs[0], positive);
    if (name == "xent_parallel_backward" && op.inputs.size() > 3) transform(op.inputs[3], positive);
  }
}

// Every target plan's distinct kernel ops by signature (std::map: the same order on every rank).
std::map<std::string, std::pair<const plan::Plan*, const plan::Op*>> exact_ops(const std::vector<plan::Plan>& targets) {
  std::map<std::string, std::pair<const plan::Plan*, const plan::Op*>> ops;
  for (const auto& p : targets)
    for (const auto& prog : p.programs)
      for (const auto& op : prog.ops) {
        std::string sig = plan::op_signature(p, op);
        if (!sig.empty()) ops.emplace(std::move(sig), std::make_pair(&p, &op));
      }
  return ops;
}

// Every distinct op of the targets, in rounds: a round runs each op once (on every rank at once, as
// in a run), so it lasts about as long as the ops of a step, and the rounds' per-rank totals say how
// the ranks' relative speeds vary from one such period to the next
// (CalibrationProfile::rank_compute_factor_samples, every rank_sample_stride-th round: the
// samples span several of the periods over which the ranks' relative speed drifts, as a run's
// steps do). An op's time is its median over the rounds, averaged over the ranks. Before each
// timed run, the inputs that the op before it would just have written in a run are written again
// (freshly_written_inputs), so that they are in cache as in a run.
void calibrate_exact_ops(CommunicatorFactory& comms, const CalibrationOptions& o, plan::CalibrationProfile& prof,
                         const Progress& progress) {
  const auto ops = exact_ops(o.targets);
  struct Sample {
    plan::Plan plan;
    std::unique_ptr<CommunicatorFactory> comms;
    std::unique_ptr<Worker> worker;
    std::vector<std::pair<TensorId, std::vector<float>>> hot;  // inputs a run's previous op just wrote
  };
  std::vector<Sample> samples;
  samples.reserve(ops.size());  // a Worker refers to its plan and communicators: no reallocation
  for (const auto& [sig, where] : ops) {
    samples.push_back({exact_op_plan(*where.first, *where.second), make_local_communicators(), nullptr, {}});
    Sample& s = samples.back();
    try {
      RunOptions ro;
      ro.threading = StreamThreading::sequential;
      ro.blas_threads = o.blas_threads;
      ro.warmup_steps = 0;
      ro.timeline_max_samples = 1;
      s.worker = std::make_unique<Worker>(s.plan, *s.comms, ro);
      fill_floats(*s.worker, s.plan);
      prepare_exact(*s.worker, s.plan);
      const plan::Op& cloned = s.plan.programs[0].ops[0];
      for (const std::size_t k : freshly_written_inputs(*where.first, *where.second))
        s.hot.emplace_back(cloned.inputs[k], s.worker->read_tensor(cloned.inputs[k]));
      s.worker->run_step();  // warm caches and pages
    } catch (const Error&) {
      s.worker.reset();  // deterministic, so every rank skips it: the op keeps the interpolated tables
    }
  }
  const int rounds = std::max(o.min_repeats, o.exact_rounds);
  std::vector<std::vector<double>> times(samples.size());  // per op, per round
  std::vector<double> round_totals(static_cast<std::size_t>(rounds), 0.0);
  // On a thread at a run's compute priority, holding the core as a compute stream does: a nice-19
  // thread loses its core to any other runnable thread of the machine (the launcher, the other
  // rank's communication thread), so its pace varies more than a normal thread's, and the rank
  // speed samples must see that variation as a run's compute streams do.
  std::exception_ptr error;
  std::thread compute([&] {
    try {
      lower_compute_thread_priority();
      const ComputeActivity activity;
      for (int r = 0; r < rounds; ++r) {
        progress("exact ops", static_cast<double>(r) / rounds);
        for (std::size_t i = 0; i < samples.size(); ++i) {
          if (!samples[i].worker) continue;
          for (const auto& [id, values] : samples[i].hot) samples[i].worker->write_tensor(id, values);
          samples[i].worker->run_step();
          const auto& span = samples[i].worker->last_step().ops.at(0);
          const double t = std::max(1.0, static_cast<double>(span.end_ns - span.start_ns));
          times[i].push_back(t);
          round_totals[static_cast<std::size_t>(r)] += t;
        }
      }
    } catch (...) {
      error = std::current_exception();
    }
  });
  compute.join();
  if (error) std::rethrow_exception(error);
  std::vector<double> median(samples.size(), 0.0);
  for (std::size_t i = 0; i < samples.size(); ++i) median[i] = median_of(times[i]);
  prof.rank_compute_factor = rank_factors(comms, median);
  if (comms.world_size() > 1)
    for (int r = 0; r < rounds; r += std::max(1, o.rank_sample_stride)) {
      std::vector<double> factors = rank_factors(comms, {round_totals[static_cast<std::size_t>(r)]});
      if (!factors.empty()) prof.rank_compute_factor_samples.push_back(std::move(factors));
    }
  average_over_ranks(comms, median);
  std::size_t i = 0;
  for (const auto& [sig, where] : ops) {
    if (samples[i].worker) prof.ops.push_back({sig, where.second->name, median[i]});
    ++i;
  }
}

double median_of(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The collectives (type, group size, bytes, dtype) and transfer sizes of the target plans.
struct CommTargets {
  using Key = std::tuple<CollectiveType, std::int32_t, std::int64_t, DType>;
  std::set<Key> collectives;
  std::set<Key> accumulating;  // reduce-scatters that add into their shard (one sample serves both)
  std::set<std::int64_t> p2p_bytes;
  std::int64_t working_set_bytes = 0;  // the largest bytes a rank's step touches among the targets
  // Per collective: the shortest compute a rank runs between its previous communication op and
  // this collective (collective_gaps), ns; absent until the exact ops are timed.
  std::map<Key, double> gap_ns;
};

CommTargets comm_targets(const std::vector<plan::Plan>& targets) {
  CommTargets out;
  for (const auto& p : targets) {
    const plan::RankGroups groups(p);
    for (const auto& prog : p.programs) {
      // What a step touches: the persistent tensors and every tensor an op allocates.
      std::set<plan::TensorId> touched(prog.persistent.begin(), prog.persistent.end());
      for (const auto& op : prog.ops) touched.insert(op.allocs.begin(), op.allocs.end());
      std::int64_t bytes = 0;
      for (plan::TensorId t : touched) bytes += p.tensors.at(static_cast<std::size_t>(t)).bytes;
      out.working_set_bytes = std::max(out.working_set_bytes, bytes);
    }
    for (std::size_t prog = 0; prog < p.programs.size(); ++prog) {
      const auto first = std::find(p.program_of_rank.begin(), p.program_of_rank.end(), static_cast<std::int32_t>(prog));
      if (first == p.program_of_rank.end()) continue;
      const auto rank = static_cast<plan::Rank>(first - p.program_of_rank.begin());
      const auto& ops = p.programs[prog].ops;
      for (std::size_t i = 0; i < ops.size(); ++i) {
        const plan::Op& op = ops[i];
        if (op.kind == OpKind::collective) {
          const auto& c = std::get<plan::CollectiveParams>(op.params);
          const std::int32_t g = groups.group_of(rank, c.group);
          if (g == plan::kNone || c.bytes <= 0) continue;
          const auto n = static_cast<std::int32_t>(p.groups.at(static_cast<std::size_t>(g)).ranks.size());
          if (n > 1) {
            out.collectives.emplace(c.type, n, c.bytes, c.dtype);
            if (c.accumulate) out.accumulating.emplace(c.type, n, c.bytes, c.dtype);
          }
        } else if (op.kind == OpKind::send) {
          const auto bytes = std::get<plan::P2PParams>(op.params).bytes;
          if (bytes > 0) out.p2p_bytes.insert(bytes);
        }
      }
    }
  }
  return out;
}

// Per collective of the targets: the shortest compute_before_collective_ns over its occurrences.
void collective_gaps(const std::vector<plan::Plan>& targets, const std::vector<plan::OpSample>& ops,
                     CommTargets& out) {
  for (const auto& p : targets) {
    const plan::RankGroups groups(p);
    for (std::size_t prog = 0; prog < p.programs.size(); ++prog) {
      const auto first = std::find(p.program_of_rank.begin(), p.program_of_rank.end(), static_cast<std::int32_t>(prog));
      if (first == p.program_of_rank.end()) continue;
      const auto rank = static_cast<plan::Rank>(first - p.program_of_rank.begin());
      const auto& prog_ops = p.programs[prog].ops;
      for (std::size_t i = 0; i < prog_ops.size(); ++i) {
        const plan::Op& op = prog_ops[i];
        if (op.kind != OpKind::collective) continue;
        const auto& c = std::get<plan::CollectiveParams>(op.params);
        const std::int32_t g = groups.group_of(rank, c.group);
        if (g == plan::kNone || c.bytes <= 0) continue;
        const auto members = static_cast<std::int32_t>(p.groups.at(static_cast<std::size_t>(g)).ranks.size());
        if (members < 2) continue;
        const double gap = compute_before_collective_ns(p, static_cast<std::int32_t>(prog), i, ops);
        const CommTargets::Key key{c.type, members, c.bytes, c.dtype};
        const auto it = out.gap_ns.find(key);
        out.gap_ns[key] = it == out.gap_ns.end() ? gap : std::min(it->second, gap);
      }
    }
  }
}

// A buffer of `bytes` holding ones in `dtype` (sums of ones stay finite over a few repetitions).
std::vector<std::byte> ones(std::int64_t bytes, DType dtype) {
  std::vector<std::byte> b(static_cast<std::size_t>(bytes));
  const std::int64_t n = bytes / dtype_bytes(dtype);
  if (dtype == DType::fp32 || dtype == DType::tf32) {
    std::vector<float> one(static_cast<std::size_t>(n), 1.0f);
    std::memcpy(b.data(), one.data(), static_cast<std::size_t>(n) * sizeof(float));
  } else if (dtype == DType::bf16 || dtype == DType::fp16) {
    const std::uint16_t bits = dtype == DType::bf16 ? 0x3F80 : 0x3C00;
    for (std::int64_t i = 0; i < n; ++i) std::memcpy(b.data() + i * 2, &bits, 2);
  }
  return b;
}

// One collective on `comm` (n members) over `bytes` of `dtype`.
void run_collective(Communicator& comm, CollectiveType type, std::int64_t bytes, DType dtype, std::byte* a,
                    std::byte* b) {
  const int n = comm.size();
  const std::int64_t count = bytes / dtype_bytes(dtype);
  switch (type) {
    case CollectiveType::all_reduce:
      comm.all_reduce(a, count, dtype, ReduceKind::sum);
      break;
    case CollectiveType::all_gather:
      comm.all_gather(a, b, count / n, dtype);
      break;
    case CollectiveType::reduce_scatter:
      comm.reduce_scatter(a, b, count / n, dtype, ReduceKind::sum);
      break;
    case CollectiveType::broadcast:
      comm.broadcast(a, count, dtype, 0);
      break;
    case CollectiveType::reduce:
      comm.reduce(a, count, dtype, ReduceKind::sum, 0);
      break;
    case CollectiveType::all_to_all:
      comm.all_to_all(a, b, count / n, dtype);
      break;
  }
}

// The operation itself, as a run's comparison measures it (from the last member's arrival to
// completion): the members start together after a barrier, on a freshly written buffer as a step's
// gradients are; each member's median over `reps`, averaged over the members (0 for non-members).
double isolated_collective_ns(Communicator* comm, Communicator& world, CollectiveType type, std::int64_t bytes,
                              DType dtype, int n) {
  double mine = 0.0;
  if (comm != nullptr) {
    const std::vector<std::byte> fresh = ones(bytes, dtype);
    std::vector<std::byte> a = fresh, b(static_cast<std::size_t>(bytes));
    const int reps = static_cast<int>(std::clamp<std::int64_t>((std::int64_t{1} << 25) / std::max<std::int64_t>(bytes, 1), 5, 41));
    run_collective(*comm, type, bytes, dtype, a.data(), b.data());  // warm-up
    std::vector<double> t;
    for (int r = 0; r < reps; ++r) {
      std::memcpy(a.data(), fresh.data(), fresh.size());
      comm->barrier();
      const auto t0 = Clock::now();
      run_collective(*comm, type, bytes, dtype, a.data(), b.data());
      t.push_back(seconds_since(t0) * 1e9);
    }
    mine = median_of(std::move(t));
  }
  world.all_reduce_f64(&mine, 1, ReduceKind::sum);
  return mine / n;
}

// A collective over every rank as a run issues it: a compute stream writes the buffer (as a backward
// pass writes a gradient bucket) and then reads and rewrites the rest of the step's memory
// (`working_set_bytes` in all, so the buffer is no longer all in cache), the rank's communication
// stream thread is woken for the collective (a reduce-scatter adding into its shard when
// `accumulate`, as ZeRO-2's does), and the compute stream waits for its result; run by the
// executor's Worker with one thread per stream over the MPI communicators. The time is the
// comparison's transfer: from the last member's start to this member's end, the median over steps,
// averaged over the ranks.
//
// What precedes the measured step is what precedes the collective in a run (`gap_ns`,
// collective_gaps). After a long compute (at least kColdGap: a data-parallel gradient all-reduce
// follows a step's whole forward and backward pass), each measured step follows that much
// memory-bound compute over the step's working set, on a thread at a run's compute priority, and
// a barrier (the comparison's transfer leaves the ranks' skew out). In gpt-tiny-dp2 (1.75 MiB,
// 21 ms of compute before it) on a quiet development VM, five runs' median transfers were
// 625-691 us; the collective took 577-647 us after 20-80 ms of such compute (580-650 us after as
// long a sleep) and 415-497 us a few ms after the previous one, which the calibration had
// measured, so that every data-parallel scenario's transfer was predicted 15-30% short.
// Collectives close to each other (tensor parallel's, a few per layer) are measured so: the
// steps come in pairs kRunLikeSpacing apart, the second of each pair measured, so that the
// samples span about a second, as a run's steps do (the machine's communication pace moves
// between periods of a few hundred ms; in one gpt-tiny-bf16 run the 0.9 MB all-reduce took
// 750-850 us in steps 10-22 and 595-615 us in steps 28-39); the first step of a pair absorbs
// the pause, after which a 128 KiB all-reduce took 146-182 us against 100-125 us in the runs.
constexpr auto kRunLikeSpacing = std::chrono::milliseconds(25);
constexpr double kColdGap = 10e6;

// Memory-bound passes over `bytes` for `ns`, on a thread at a run's compute priority.
void compute_for(std::int64_t bytes, double ns) {
  std::thread compute([&] {
    lower_compute_thread_priority();
    const ComputeActivity activity;
    std::vector<float> data(static_cast<std::size_t>(std::max<std::int64_t>(bytes, 1 << 20) / 4), 1.0f);
    const auto t0 = Clock::now();
    constexpr std::size_t chunk = 16384;
    for (std::size_t q = 0; seconds_since(t0) * 1e9 < ns; q = (q + chunk) % data.size()) {
      const std::size_t e = std::min(data.size(), q + chunk);
      for (std::size_t z = q; z < e; ++z) data[z] = data[z] * 0.999f + 0.001f;
    }
  });
  compute.join();
}

double run_like_collective_ns(CommunicatorFactory& comms, CollectiveType type, std::int64_t bytes, DType dtype,
                              std::int64_t working_set_bytes, bool accumulate, double gap_ns) {
  const int n = comms.world_size();
  SamplePlan s;
  s.p.world_size = n;
  s.p.program_of_rank.assign(static_cast<std::size_t>(n), 0);
  plan::Group g;
  g.id = 0;
  g.kind = GroupKind::dp;
  for (int r = 0; r < n; ++r) g.ranks.push_back(r);
  s.p.groups.push_back(g);
  s.p.programs[0].streams.push_back({1, "dp_comm", StreamKind::comm});
  const std::int64_t count = bytes / dtype_bytes(dtype);
  const bool sharded_out = type == CollectiveType::reduce_scatter;
  const bool sharded_in = type == CollectiveType::all_gather;
  const TensorId full = s.tensor("buf", dtype, {count});
  const TensorId part = s.tensor("part", dtype, {std::max<std::int64_t>(1, count / n)});
  const TensorId x = s.tensor("x", DType::fp32, {1});
  OpId produce = s.elementwise("zero", {}, {sharded_in ? part : full});
  if (working_set_bytes > bytes) {
    const TensorId rest =
        s.tensor("rest_of_step", DType::fp32, {std::max<std::int64_t>(1, (working_set_bytes - bytes) / 4)});
    produce = s.elementwise("scale", {rest}, {rest}, 0.5);
  }
  plan::CollectiveParams cp;
  cp.type = type, cp.group = GroupKind::dp, cp.bytes = bytes, cp.dtype = dtype;
  cp.accumulate = accumulate && sharded_out;
  std::vector<TensorId> in{sharded_in ? part : full}, out;
  if (sharded_out) out = {part};
  if (sharded_in) out = {full};
  const OpId coll = s.op(OpKind::collective, cp, in, out);
  s.p.programs[0].ops[static_cast<std::size_t>(coll)].stream = 1;
  s.p.programs[0].ops[static_cast<std::size_t>(coll)].deps = {produce};
  const OpId consume = s.elementwise("zero", {}, {x});
  s.p.programs[0].ops[static_cast<std::size_t>(consume)].deps = {coll};
  RunOptions ro;
  ro.threading = StreamThreading::thread_per_stream;
  ro.warmup_steps = 0;
  ro.timeline_max_samples = 1;

  const int samples = static_cast<int>(std::clamp<std::int64_t>((std::int64_t{1} << 27) / std::max<std::int64_t>(bytes, 1), 8, 32));
  std::vector<double> starts, ends;
  {
    Worker w(s.p, comms, ro);
    const bool cold = gap_ns >= kColdGap;
    w.run_step();  // warm-up
    for (int i = 0; i < samples; ++i) {
      if (cold) {
        compute_for(working_set_bytes, std::min(gap_ns, 100e6));
        comms.world().barrier();
        w.run_step();
        continue;
      }
      w.run_step();
      w.run_step();
      std::this_thread::sleep_for(kRunLikeSpacing);  // on every rank: the next pair starts together
    }
    const RankRecord rec = w.record();
    for (std::size_t i = cold ? 1 : 2; i < rec.steps.size(); i += cold ? 1 : 2)
      for (const auto& span : rec.steps[i].ops)
        if (span.op == coll) {
          starts.push_back(static_cast<double>(span.start_ns));
          ends.push_back(static_cast<double>(span.end_ns));
        }
  }
  std::vector<double> latest = starts;
  comms.world().all_reduce_f64(latest.data(), static_cast<std::int64_t>(latest.size()), ReduceKind::max);
  std::vector<double> transfer;
  for (std::size_t i = 0; i < ends.size(); ++i)
    transfer.push_back(std::max(0.0, ends[i] - std::max(latest[i], starts[i])));  // as reports::compare
  double mine = median_of(std::move(transfer));
  comms.world().all_reduce_f64(&mine, 1, ReduceKind::sum);
  return mine / n;  // 0 when no member waited for another (a root that never waits): see the caller
}

// One-way transfer between members 0 and 1, posted together after a barrier: the median of each
// side's time, averaged over the two sides.
double isolated_p2p_ns(Communicator* comm, Communicator& world, std::int64_t bytes) {
  double mine = 0.0;
  if (comm != nullptr && comm->index() < 2) {
    std::vector<std::byte> buf(static_cast<std::size_t>(bytes));
    const int reps = static_cast<int>(std::clamp<std::int64_t>((std::int64_t{1} << 25) / bytes, 5, 41));
    std::vector<double> t;
    for (int r = 0; r <= reps; ++r) {
      comm->barrier();
      const auto t0 = Clock::now();
      if (comm->index() == 0)
        comm->send(buf.data(), bytes, 1, 7);
      else
        comm->recv(buf.data(), bytes, 0, 7);
      if (r > 0) t.push_back(seconds_since(t0) * 1e9);  // the first is a warm-up
    }
    mine = median_of(std::move(t));
  } else if (comm != nullptr) {
    for (int r = 0; r <= static_cast<int>(std::clamp<std::int64_t>((std::int64_t{1} << 25) / bytes, 5, 41)); ++r)
      comm->barrier();
  }
  world.all_reduce_f64(&mine, 1, ReduceKind::sum);
  return mine / 2.0;
}

// --- host overheads: what a stream thread spends between ops -------------------------------------------

// Runs `p` with one thread per stream, as a run does, and returns the spans of every step after the
// first, per op.
std::vector<std::vector<std::pair<std::int64_t, std::int64_t>>> threaded_spans(const plan::Plan& p, int steps) {
  auto comms = make_local_communicators();
  RunOptions ro;
  ro.threading = StreamThreading::thread_per_stream;
  ro.warmup_steps = 0;
  ro.timeline_max_samples = 1;
  Worker w(p, *comms, ro);
  std::vector<std::vector<std::pair<std::int64_t, std::int64_t>>> spans(p.programs[0].ops.size());
  for (int s = 0; s < steps; ++s) {
    w.run_step();
    if (s == 0) continue;
    const RankRecord record = w.record();
    for (const auto& span : record.steps.back().ops)
      spans[static_cast<std::size_t>(span.op)].emplace_back(span.start_ns, span.end_ns);
  }
  return spans;
}

// dispatch_ns: the median gap between tiny ops following each other on one stream; wake_ns: the
// median gap of ops released by the other stream, less dispatch_ns; alloc: the gap before an op that
// allocates a tensor of each size, less dispatch_ns.
void calibrate_host(CommunicatorFactory& comms, const CalibrationOptions& o, plan::CalibrationProfile& prof) {
  SamplePlan s;
  s.p.programs[0].streams.push_back({1, "side", StreamKind::compute});
  const TensorId x0 = s.tensor("x0", DType::fp32, {1}), x1 = s.tensor("x1", DType::fp32, {1});
  auto tiny = [&](plan::StreamId stream, std::vector<OpId> deps) {
    const OpId id = s.elementwise("zero", {}, {stream == 0 ? x0 : x1});
    auto& op = s.p.programs[0].ops[static_cast<std::size_t>(id)];
    op.stream = stream;
    op.deps = std::move(deps);
    return id;
  };
  constexpr int kChain = 24;
  std::vector<OpId> same_stream, woken;
  OpId last = tiny(0, {});
  for (int i = 0; i < kChain; ++i) same_stream.push_back(last = tiny(0, {}));
  for (int i = 0; i < kChain; ++i) {
    const OpId side = tiny(1, {last});
    woken.push_back(side);
    woken.push_back(last = tiny(0, {side}));
  }
  std::vector<std::pair<std::int64_t, OpId>> allocating;  // (bytes, op)
  for (std::int64_t bytes : o.alloc_bytes) {
    const TensorId t = s.tensor("alloc", DType::fp32, {std::max<std::int64_t>(1, bytes / 4)});
    bytes = s.p.tensors[static_cast<std::size_t>(t)].bytes;
    auto& persistent = s.p.programs[0].persistent;
    persistent.erase(std::find(persistent.begin(), persistent.end(), t));
    s.p.tensors[static_cast<std::size_t>(t)].persistent = false;
    const OpId a = tiny(0, {});
    s.p.programs[0].ops[static_cast<std::size_t>(a)].allocs.push_back(t);
    const OpId f = tiny(0, {});
    s.p.programs[0].ops[static_cast<std::size_t>(f)].frees.push_back(t);
    allocating.emplace_back(bytes, a);
  }
  const auto spans = threaded_spans(s.p, std::max(12, o.min_repeats + 1));
  const auto& ops = s.p.programs[0].ops;
  // The gap before op `id`: its start minus the latest end among its stream predecessor and deps.
  auto gap = [&](OpId id) {
    std::vector<double> g;
    for (std::size_t k = 0; k < spans[static_cast<std::size_t>(id)].size(); ++k) {
      std::int64_t ready = 0;
      for (OpId d : ops[static_cast<std::size_t>(id)].deps) ready = std::max(ready, spans[static_cast<std::size_t>(d)][k].second);
      for (OpId prev = id - 1; prev >= 0; --prev)
        if (ops[static_cast<std::size_t>(prev)].stream == ops[static_cast<std::size_t>(id)].stream) {
          ready = std::max(ready, spans[static_cast<std::size_t>(prev)][k].second);
          break;
        }
      g.push_back(static_cast<double>(spans[static_cast<std::size_t>(id)][k].first - ready));
    }
    return median_of(std::move(g));
  };
  auto median_gap = [&](const std::vector<OpId>& ids) {
    std::vector<double> g;
    for (OpId id : ids) g.push_back(gap(id));
    return median_of(std::move(g));
  };
  std::vector<double> v = {median_gap(same_stream), median_gap(woken)};
  for (const auto& [bytes, id] : allocating) v.push_back(gap(id));
  average_over_ranks(comms, v);
  prof.host.dispatch_ns = std::max(0.0, v[0]);
  prof.host.wake_ns = std::max(0.0, v[1] - v[0]);
  prof.host.alloc.clear();
  for (std::size_t i = 0; i < allocating.size(); ++i)
    prof.host.alloc.push_back({allocating[i].first, std::max(1.0, v[2 + i] - v[0])});
}

// How much later a transfer completes when both ends' cores are busy computing, as a pipeline's
// sends and receives are in a 1F1B steady state: members 0 and 1 each run a GEMM thread while
// each sends `bytes` to the other from one thread and receives the other's message on a second
// (a stage's send and receive streams); a waiting thread sees its op done only when it is given
// the core. Both are posted together, so the polls are as close together as in the idle transfer
// (a receive posted long before its send is seen at a later poll: the engine models that from
// host.poll_*). The mean transfer
// (from the message's later start to each side's end, all four sides) minus `quiet_ns`, the same
// transfer with idle cores; at least 0. CalibrationProfile::overlap_comm_busy_delay_ns.
double busy_p2p_delay_ns(Communicator* comm, Communicator& world, std::int64_t bytes, double quiet_ns) {
  constexpr int reps = 40;
  // Per repetition and message (0: member 0 -> 1, 1: member 1 -> 0): this rank's start and end.
  std::vector<double> starts(2 * reps, 0.0), ends(2 * reps, 0.0);
  const bool member = comm != nullptr && comm->index() < 2;
  const auto now = [] { return static_cast<double>(Clock::now().time_since_epoch().count()); };
  {
    std::atomic<bool> busy{true};
    std::thread compute;
    if (member)
      compute = std::thread([&] {
        lower_compute_thread_priority();  // as a run's compute stream
        const ComputeActivity activity;
        const std::int64_t size = 256;
        std::vector<float> a(static_cast<std::size_t>(size * size), 0.5f), b(a.size(), 0.25f), c(a.size());
        const cpu::GemmShape shape{.m = size, .n = size, .k = size};
        while (busy.load(std::memory_order_relaxed)) cpu::gemm_forward(c.data(), a.data(), b.data(), nullptr, shape);
      });
    std::vector<std::byte> out(static_cast<std::size_t>(bytes)), in(static_cast<std::size_t>(bytes));
    for (int r = 0; r < reps; ++r) {
      world.barrier();
      if (!member) continue;
      const int me = comm->index(), peer = 1 - me;
      std::thread receiver([&] {
        const std::size_t k = static_cast<std::size_t>(2 * r + peer);  // the peer's message
        starts[k] = now();
        comm->recv(in.data(), bytes, peer, 9 + peer);
        ends[k] = now();
      });
      const std::size_t k = static_cast<std::size_t>(2 * r + me);
      starts[k] = now();
      comm->send(out.data(), bytes, peer, 9 + me);
      ends[k] = now();
      receiver.join();
    }
    busy = false;
    if (compute.joinable()) compute.join();
  }
  std::vector<double> latest = starts;
  world.all_reduce_f64(latest.data(), 2 * reps, ReduceKind::max);
  double mean = 0.0;
  if (member)
    for (std::size_t k = 2; k < latest.size(); ++k)  // the first repetition is a warm-up
      mean += std::max(0.0, ends[k] - latest[k]) / static_cast<double>(latest.size() - 2);
  world.all_reduce_f64(&mean, 1, ReduceKind::sum);
  return std::max(0.0, mean / 2.0 - quiet_ns);
}

// A transfer into a rank that has computed nothing for `idle_ns`, as a pipeline stage in its
// bubble: member 1 posts a receive and waits as the executor does (polling every poll.first_ns
// while idle), member 0 keeps its core busy for `idle_ns` (a spin, as a compute kernel) and then
// sends `bytes`. The receive's end after the send's post (member 1's clock: its wait less the
// spin; both start at a barrier), median of 15, less half an idle poll period and less
// `quiet_ns` (the transfer between ranks that idled microseconds); at least 0.
double idle_p2p_delay_ns(Communicator* comm, Communicator& world, std::int64_t bytes, double idle_ns, double quiet_ns,
                         const plan::PollSchedule& poll) {
  constexpr int reps = 15;
  double mine = 0.0;
  const bool member = comm != nullptr && comm->index() < 2;
  std::vector<std::byte> buf(static_cast<std::size_t>(member ? bytes : 0));
  std::vector<double> after;
  for (int r = 0; r <= reps; ++r) {
    world.barrier();
    if (!member) continue;
    const auto t0 = Clock::now();
    if (comm->index() == 1) {
      comm->recv(buf.data(), bytes, 0, 11);
      if (r > 0) after.push_back(seconds_since(t0) * 1e9 - idle_ns);  // the first is a warm-up
    } else {
      while (seconds_since(t0) * 1e9 < idle_ns) {
      }
      comm->send(buf.data(), bytes, 1, 11);
    }
  }
  if (member && comm->index() == 1)
    mine = std::max(0.0, median_of(std::move(after)) - 0.5 * (poll.first_ns + poll.overshoot_ns) - quiet_ns);
  world.all_reduce_f64(&mine, 1, ReduceKind::sum);
  return mine;
}

// How much longer a collective takes when a member arrived first and idled, its wait polling and
// its rank computing nothing, while the others computed: a data-parallel rank that finishes its
// backward pass first waits so for the gradient all-reduce. On the development VM a 1.75 MiB
// all-reduce took 430-500 us with its ranks up to 1 ms apart and 770-800 us 3 ms apart
// (tools/collective-skew.cpp, waits polling every 10 us). After a barrier, member 0 posts at once
// and the others spin for `idle` before they post; the later members' time to completion (the
// comparison's transfer), the median over repetitions averaged over them, minus the same with no
// spin, at each of `idles` ns. Each repetition takes every spin in turn, so that a machine that
// changes pace during the calibration (docs/VALIDATION.md: the probe) moves all of them alike.
std::vector<plan::IdleDelaySample> idle_collective_delay(Communicator& comm, Communicator& world, CollectiveType type,
                                                         std::int64_t bytes, DType dtype,
                                                         const std::vector<double>& idles) {
  constexpr int reps = 11;
  const std::vector<std::byte> fresh = ones(bytes, dtype);
  std::vector<std::byte> a = fresh, b(static_cast<std::size_t>(bytes));
  std::vector<double> spins = {0.0};
  spins.insert(spins.end(), idles.begin(), idles.end());
  std::vector<std::vector<double>> t(spins.size());
  for (int r = 0; r <= reps; ++r)
    for (std::size_t i = 0; i < spins.size(); ++i) {
      std::memcpy(a.data(), fresh.data(), fresh.size());
      world.barrier();
      if (comm.index() == 0) {
        run_collective(comm, type, bytes, dtype, a.data(), b.data());
        continue;
      }
      const auto t0 = Clock::now();
      while (seconds_since(t0) * 1e9 < spins[i]) {
      }
      const auto t1 = Clock::now();
      run_collective(comm, type, bytes, dtype, a.data(), b.data());
      if (r > 0) t[i].push_back(seconds_since(t1) * 1e9);  // the first round is a warm-up
    }
  std::vector<double> late(spins.size(), 0.0);
  if (comm.index() != 0)
    for (std::size_t i = 0; i < spins.size(); ++i) late[i] = median_of(std::move(t[i]));
  world.all_reduce_f64(late.data(), static_cast<std::int64_t>(late.size()), ReduceKind::sum);
  std::vector<plan::IdleDelaySample> out;
  for (std::size_t i = 1; i < spins.size(); ++i)
    out.push_back({spins[i], std::max(0.0, (late[i] - late[0]) / (comm.size() - 1))});
  return out;
}

// Collectives over the first n ranks for n = 2, 4, ... and the world, at the grid's sizes in fp32
// and at the exact (type, group size, bytes, dtype) of the target plans; one-way transfers between
// ranks 0 and 1 at the grid's and the targets' sizes. Every time is an isolated operation
// (isolated_collective_ns, isolated_p2p_ns).
void calibrate_comm(CommunicatorFactory& comms, const CalibrationOptions& o, plan::CalibrationProfile& prof,
                    const Progress& progress) {
  const int world = comms.world_size(), me = comms.world_rank();
  // placement: intra when the members share one host
  const auto hosts = comms.world().gather_strings(detail::host_name(), 0);
  CommTargets targets = comm_targets(o.targets);
  collective_gaps(o.targets, prof.ops, targets);
  std::set<int> size_set;
  if (o.grid) {
    for (int n = 2; n < world; n *= 2) size_set.insert(n);
    size_set.insert(world);
  }
  for (const auto& c : targets.collectives)
    if (std::get<1>(c) <= world) size_set.insert(std::get<1>(c));
  if (!targets.p2p_bytes.empty() || o.grid) size_set.insert(2);
  const std::vector<int> sizes(size_set.begin(), size_set.end());
  std::vector<double> intra(sizes.size(), 0.0);
  if (me == 0)
    for (std::size_t i = 0; i < sizes.size(); ++i)
      intra[i] =
          std::all_of(hosts.begin(), hosts.begin() + sizes[i], [&](const std::string& h) { return h == hosts[0]; })
              ? 1.0
              : 0.0;
  comms.world().all_reduce_f64(intra.data(), static_cast<std::int64_t>(intra.size()), ReduceKind::sum);

  const CollectiveType types[] = {CollectiveType::all_reduce,     CollectiveType::all_gather,
                                  CollectiveType::reduce_scatter, CollectiveType::broadcast,
                                  CollectiveType::reduce,         CollectiveType::all_to_all};
  std::size_t done = 0;
  const std::size_t total =
      (o.grid ? sizes.size() * o.comm_bytes.size() * std::size(types) : 0) + targets.collectives.size();
  for (std::size_t si = 0; si < sizes.size(); ++si) {
    const int n = sizes[si];
    const plan::Placement placement = intra[si] > 0.5 ? plan::Placement::intra : plan::Placement::inter;
    plan::Group g;
    g.kind = GroupKind::world;
    for (int r = 0; r < n; ++r) g.ranks.push_back(r);
    const bool member = me < n;
    auto comm = comms.create(GroupKind::world, member ? &g : nullptr, member ? me : 0);
    Communicator* mine = member ? comm.get() : nullptr;
    // Over every rank as a run issues it (run_like_collective_ns); over fewer, isolated.
    auto collective_ns = [&](CollectiveType type, std::int64_t bytes, DType dtype) {
      if (n == world && type != CollectiveType::all_to_all) {
        const bool accumulate = targets.accumulating.count({type, n, bytes, dtype}) > 0;
        const auto gap = targets.gap_ns.find({type, n, bytes, dtype});
        const double t = run_like_collective_ns(comms, type, bytes, dtype, targets.working_set_bytes, accumulate,
                                                gap == targets.gap_ns.end() ? 0.0 : gap->second);
        if (t >= 1.0) return t;
      }
      return isolated_collective_ns(mine, comms.world(), type, bytes, dtype, n);
    };
    if (o.grid)
      for (std::int64_t bytes : o.comm_bytes) {
        const std::int64_t b = std::max<std::int64_t>(n, bytes / 4 / n * n) * 4;  // fp32, divisible by n
        for (CollectiveType type : types) {
          progress("collectives", static_cast<double>(done++) / static_cast<double>(total));
          prof.collectives.push_back(
              {type, n, b, collective_ns(type, b, DType::fp32), placement, DType::fp32, {}});
        }
      }
    for (const auto& [type, ranks, bytes, dtype] : targets.collectives) {
      if (ranks != n) continue;
      progress("collectives", static_cast<double>(done++) / static_cast<double>(total));
      plan::CollectiveSample c{type, n, bytes, collective_ns(type, bytes, dtype), placement, dtype, {}};
      // Over every rank, as a run's gradient collectives, whose ranks arrive apart; with waits that
      // poll (the MPI communicators).
      if (n == world && prof.host.poll.first_ns > 0.0 && type != CollectiveType::all_to_all)
        c.idle_delay = idle_collective_delay(*mine, comms.world(), type, bytes, dtype, {0.5e6, 1e6, 2e6, 4e6});
      prof.collectives.push_back(c);
    }
    if (n == 2) {
      std::set<std::int64_t> p2p = targets.p2p_bytes;
      if (o.grid) p2p.insert(o.comm_bytes.begin(), o.comm_bytes.end());
      for (std::int64_t bytes : p2p) prof.p2p.push_back({bytes, isolated_p2p_ns(mine, comms.world(), bytes)});
      // A pipeline's transfers meet busy cores: at its largest transfer (the targets' only).
      if (!targets.p2p_bytes.empty()) {
        const std::int64_t bytes = *targets.p2p_bytes.rbegin();
        double quiet = 0.0;
        for (const auto& b : prof.p2p)
          if (b.bytes == bytes) quiet = b.time_ns;
        prof.overlap_comm_busy_delay_ns = busy_p2p_delay_ns(mine, comms.world(), bytes, quiet);
        prof.overlap_comm_idle_delay.clear();
        if (prof.host.poll.first_ns > 0.0)  // waits that poll (the MPI communicators)
          for (const double idle : {0.5e6, 2e6, 5e6, 20e6})
            prof.overlap_comm_idle_delay.push_back(
                {idle, idle_p2p_delay_ns(mine, comms.world(), bytes, idle, quiet, prof.host.poll)});
      }
    }
  }
}

// How much longer than asked a polling thread's sleep lasts (PollSchedule::overshoot_ns): on a
// thread with the same timer slack as the communicators' waits, the median of sleeps of the
// schedule's first and of its cap, each median averaged over the ranks, then the two.
double sleep_overshoot_ns(CommunicatorFactory& comms, const plan::PollSchedule& poll) {
  if (poll.first_ns <= 0.0) return 0.0;
  std::vector<double> medians(2, 0.0);
  std::thread sleeper([&] {
    use_tight_timer_slack();
    const double asks[2] = {poll.first_ns, poll.cap_ns};
    const int reps[2] = {200, 40};
    for (int i = 0; i < 2; ++i) {
      std::vector<double> over;
      for (int r = 0; r <= reps[i]; ++r) {
        const auto t0 = Clock::now();
        std::this_thread::sleep_for(std::chrono::nanoseconds(static_cast<std::int64_t>(asks[i])));
        if (r > 0) over.push_back(std::max(0.0, seconds_since(t0) * 1e9 - asks[i]));  // the first is a warm-up
      }
      medians[static_cast<std::size_t>(i)] = median_of(std::move(over));
    }
  });
  sleeper.join();
  average_over_ranks(comms, medians);
  return 0.5 * (medians[0] + medians[1]);
}

// GEMM time alone and while a communication thread keeps the links (or, in one process, memory
// copies) busy; the ratio, at least 1. Runs on the calling thread: give it a compute stream's
// priority first (calibrate_overlap).
double overlap_slowdown(CommunicatorFactory& comms) {
  const std::int64_t size = 256;
  std::vector<float> a(static_cast<std::size_t>(size * size), 0.5f), b(a.size(), 0.25f), c(a.size());
  const cpu::GemmShape shape{.m = size, .n = size, .k = size};
  auto gemm_ns = [&] {
    const auto t0 = Clock::now();
    cpu::gemm_forward(c.data(), a.data(), b.data(), nullptr, shape);
    return seconds_since(t0) * 1e9;
  };
  for (int i = 0; i < 5; ++i) gemm_ns();
  double alone = 0.0;
  const int alone_reps = 40;
  for (int i = 0; i < alone_reps; ++i) alone += gemm_ns() / alone_reps;

  const int world = comms.world_size();
  std::unique_ptr<Communicator> comm;
  if (world > 1) {
    plan::Group g;
    g.kind = GroupKind::world;
    for (int r = 0; r < world; ++r) g.ranks.push_back(r);
    comm = comms.create(GroupKind::world, &g, comms.world_rank());
    comms.world().barrier();
  }
  std::atomic<bool> busy{true};
  std::thread traffic([&] {
    std::vector<float> buf(static_cast<std::size_t>(1 << 21), 1.0f), dst(buf.size());
    if (comm) {
      for (int i = 0; i < 40; ++i)
        comm->all_reduce(buf.data(), static_cast<std::int64_t>(buf.size()), DType::fp32, ReduceKind::sum);
    } else {
      const auto t0 = Clock::now();
      while (seconds_since(t0) < 0.3) std::memcpy(dst.data(), buf.data(), buf.size() * sizeof(float));
    }
    busy = false;
  });
  double with = 0.0;
  int count = 0;
  while (busy.load()) {
    const double t = gemm_ns();
    if (busy.load()) {
      with += t;
      ++count;
    }
  }
  traffic.join();
  std::vector<double> ratio = {count > 0 ? std::max(1.0, with / count / alone) : 1.0};
  average_over_ranks(comms, ratio);
  return ratio[0];
}

double calibrate_overlap(CommunicatorFactory& comms) {
  double ratio = 1.0;
  std::exception_ptr error;
  std::thread gemm([&] {
    try {
      lower_compute_thread_priority();
      const ComputeActivity activity;  // its GEMMs are the core's work, as a compute stream's
      ratio = overlap_slowdown(comms);
    } catch (...) {
      error = std::current_exception();
    }
  });
  gemm.join();
  if (error) std::rethrow_exception(error);
  return ratio;
}

}  // namespace

double compute_before_collective_ns(const plan::Plan& plan, std::int32_t program, std::size_t op,
                                    const std::vector<plan::OpSample>& ops) {
  const auto& prog = plan.programs.at(static_cast<std::size_t>(program));
  const auto at = std::find(plan.program_of_rank.begin(), plan.program_of_rank.end(), program);
  if (at == plan.program_of_rank.end() || op >= prog.ops.size()) return 0.0;
  const auto rank = static_cast<plan::Rank>(at - plan.program_of_rank.begin());
  const plan::RankGroups groups(plan);
  std::map<std::string, double> time_of;
  for (const auto& o : ops) time_of[o.signature] = o.time_ns;
  const std::size_t n = prog.ops.size();
  double gap = 0.0;
  for (std::size_t k = 1; k < n; ++k) {  // backwards, wrapping around into the step before
    const plan::Op& o = prog.ops[(op + n - k) % n];
    if (o.kind == OpKind::send || o.kind == OpKind::recv) break;
    if (o.kind == OpKind::collective) {
      const std::int32_t g = groups.group_of(rank, std::get<plan::CollectiveParams>(o.params).group);
      if (g != plan::kNone && plan.groups.at(static_cast<std::size_t>(g)).ranks.size() > 1) break;
      continue;  // a one-rank group's collective communicates nothing
    }
    const auto it = time_of.find(plan::op_signature(plan, o));
    if (it != time_of.end()) gap += it->second;
  }
  return gap;
}

std::vector<std::size_t> freshly_written_inputs(const plan::Plan& plan, const plan::Op& op) {
  const bool ahead = op.tags.phase == Phase::forward || op.tags.phase == Phase::recompute;
  std::vector<std::size_t> out;
  for (std::size_t k = 0; k < op.inputs.size(); ++k) {
    const plan::Tensor& t = plan.tensors.at(static_cast<std::size_t>(op.inputs[k]));
    const bool is_float = t.dtype == DType::fp32 || t.dtype == DType::bf16 || t.dtype == DType::fp16;
    if (is_float && (t.role == TensorRole::activation_grad || (ahead && t.role == TensorRole::activation)))
      out.push_back(k);
  }
  return out;
}

plan::MachineProbe probe_machine(CommunicatorFactory& comms) {
  plan::MachineProbe p;
  p.bytes = 1 << 20;
  Communicator& world = comms.world();
  if (comms.world_size() > 1) {
    std::vector<float> buf(static_cast<std::size_t>(p.bytes / 4), 1.0f);
    std::vector<double> t;
    for (int i = 0; i <= 40; ++i) {
      world.barrier();
      const auto t0 = Clock::now();
      world.all_reduce(buf.data(), static_cast<std::int64_t>(buf.size()), DType::fp32, ReduceKind::sum);
      if (i > 0) t.push_back(seconds_since(t0) * 1e9);  // the first is a warm-up
      std::fill(buf.begin(), buf.end(), 1.0f);
    }
    p.all_reduce_ns = median_of(std::move(t));
  }
  const std::int64_t size = 256;
  std::vector<float> a(static_cast<std::size_t>(size * size), 0.5f), b(a.size(), 0.25f), c(a.size());
  const cpu::GemmShape shape{.m = size, .n = size, .k = size};
  std::vector<double> g;
  for (int i = 0; i <= 20; ++i) {
    const auto t0 = Clock::now();
    cpu::gemm_forward(c.data(), a.data(), b.data(), nullptr, shape);
    if (i > 0) g.push_back(seconds_since(t0) * 1e9);
  }
  p.gemm_ns = median_of(std::move(g));
  double v[2] = {p.all_reduce_ns, p.gemm_ns};
  world.all_reduce_f64(v, 2, ReduceKind::sum);
  p.all_reduce_ns = v[0] / comms.world_size();
  p.gemm_ns = v[1] / comms.world_size();
  return p;
}

CalibrationOptions CalibrationOptions::quick() {
  CalibrationOptions o;
  o.gemm_dtypes = {DType::fp32, DType::bf16};
  o.gemm_sizes = {16, 64};
  o.attention_dtypes = {DType::fp32};
  o.attention_heads = 2;
  o.attention_seqs = {32, 64};
  o.attention_head_dims = {16};
  o.memory_bytes = {1 << 10, 1 << 14};
  o.comm_bytes = {1 << 10, 1 << 14};
  o.min_sample_s = 0.0005;
  o.min_repeats = 2;
  o.max_repeats = 5;
  return o;
}

plan::CalibrationProfile calibrate_cpu(CommunicatorFactory& comms, const CalibrationOptions& o) {
  cpu::gemm_set_threads(o.blas_threads);
  const Progress progress(o, comms.world_rank());
  plan::CalibrationProfile prof;
  prof.backend = "cpu";
  prof.device = cpu_description(o.blas_threads);
  prof.created = iso_now();
  comms.world().barrier();
  prof.kernel_overhead_ns = measure_overhead(comms, o);
  if (o.grid && o.gemm) calibrate_gemm(comms, o, prof, progress);
  if (o.grid && o.attention) calibrate_attention(comms, o, prof, progress);
  if (o.grid && o.memory) calibrate_memory(comms, o, prof, progress);
  if (!o.targets.empty()) calibrate_exact_ops(comms, o, prof, progress);
  prof.host.poll = comms.poll_schedule();  // the executor's own constants
  prof.host.poll.overshoot_ns = sleep_overshoot_ns(comms, prof.host.poll);
  if (o.collectives && comms.world_size() > 1) calibrate_comm(comms, o, prof, progress);
  if (o.host) calibrate_host(comms, o, prof);
  if (o.overlap) prof.overlap_compute_slowdown = calibrate_overlap(comms);
  prof.probe = probe_machine(comms);
  progress("done", 1.0);
  return prof;
}

}  // namespace clustersim::executor
