// Compute cost models and their registry: `roofline` (peak rates x efficiency curves of the GPU
// spec) and `calibrated` (measured op times of a calibration profile, interpolated; roofline for
// what the profile does not cover, reported as a fallback).
#include "clustersim/engine/cost_model.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <map>
#include <tuple>

#include "calibration_tables.hpp"
#include "clustersim/plan/error.hpp"
#include "clustersim/plan/json.hpp"

namespace clustersim::engine {

using plan::Op;

std::string_view efficiency_class(OpKind kind) {
  switch (kind) {
    case OpKind::gemm:
      return "gemm";
    case OpKind::attention:
      return "attention";
    case OpKind::conv2d:
      return "conv";
    default:
      return "memory";
  }
}

namespace {

bool is_kernel(OpKind kind) {
  switch (kind) {
    case OpKind::collective:
    case OpKind::send:
    case OpKind::recv:
    case OpKind::io:
    case OpKind::delay:
      return false;
    default:
      return true;
  }
}

plan::EfficiencyCurve curve_of(const plan::GpuSpec& gpu, std::string_view cls) {
  const auto it = gpu.efficiency.find(std::string(cls));
  return it == gpu.efficiency.end() ? plan::EfficiencyCurve{} : it->second;
}

// Operand dtype that sets the rate of a compute-bound kernel.
DType rate_dtype(const Op& op) {
  switch (op.kind) {
    case OpKind::gemm:
      return std::get<plan::GemmParams>(op.params).dtype;
    case OpKind::attention:
      return std::get<plan::AttentionParams>(op.params).dtype;
    case OpKind::conv2d:
      return std::get<plan::Conv2dParams>(op.params).dtype;
    default:
      return DType::fp32;  // CUDA-core rate for memory-bound kinds
  }
}

std::int64_t to_ns(double seconds) {
  return static_cast<std::int64_t>(std::llround(seconds * 1e9));
}

// The roofline inputs of one GPU resolved once: the efficiency curve of each op class and the peak
// rate of each dtype, so costing an op does no map lookups (a plan has ~10^6 ops). Missing rates
// and non-positive efficiencies throw the same InputErrors as GpuSpec::peak_tflops_for and the
// catalog checks, when an op needs them.
class RooflineRates {
 public:
  explicit RooflineRates(const plan::GpuSpec& gpu) : gpu_(gpu) {
    for (std::size_t i = 0; i < kClasses.size(); ++i) curve_[i] = curve_of(gpu, kClasses[i]);
    for (std::size_t d = 0; d < peak_flops_.size(); ++d) {
      const DType key = static_cast<DType>(d) == DType::fp8_e5m2 ? DType::fp8_e4m3 : static_cast<DType>(d);
      const auto it = gpu.peak_tflops.find(key);
      peak_flops_[d] = it != gpu.peak_tflops.end() && it->second > 0.0 ? it->second * 1e12 : 0.0;
    }
  }

  // roofline_kernel_s (cost_model.hpp).
  double kernel_s(const plan::Plan& plan, const Op& op) const {
    const std::size_t cls = class_index(op.kind);
    const double flops = plan::op_flops(op);
    const double bytes = static_cast<double>(plan::op_bytes(plan, op));
    double compute_s = 0.0, memory_s = 0.0;
    if (flops > 0.0) {
      const double peak_flops = peak(rate_dtype(op));
      const double eff = cls == kMemory ? efficiency(kMemory, bytes) : efficiency(cls, flops);
      compute_s = flops / (peak_flops * eff);
    }
    if (bytes > 0.0) {
      const double bw = gpu_.memory_bandwidth_gbytes_s * 1e9;
      if (!(bw > 0.0))
        throw InputError("cluster.gpu.memory_bandwidth_gbytes_s", plan::describe_value(gpu_.memory_bandwidth_gbytes_s),
                         "a bandwidth > 0 (GPU \"" + gpu_.name + "\")");
      memory_s = bytes / (bw * efficiency(kMemory, bytes));
    }
    return std::max(compute_s, memory_s);
  }

 private:
  static constexpr std::array<std::string_view, 4> kClasses{"gemm", "attention", "conv", "memory"};
  static constexpr std::size_t kMemory = 3;
  static std::size_t class_index(OpKind kind) {
    switch (kind) {
      case OpKind::gemm:
        return 0;
      case OpKind::attention:
        return 1;
      case OpKind::conv2d:
        return 2;
      default:
        return kMemory;
    }
  }
  double efficiency(std::size_t cls, double x) const {
    const plan::EfficiencyCurve& c = curve_[cls];
    const double e = x > 0.0 ? c.at(x) : c.max;
    if (!(e > 0.0)) [[unlikely]]
      throw InputError("cluster.gpu.efficiency." + std::string(kClasses[cls]) + ".max", plan::describe_value(c.max),
                       "a fraction > 0");
    return e;
  }
  double peak(DType dtype) const {
    const double p = peak_flops_[static_cast<std::size_t>(dtype)];
    if (p > 0.0) [[likely]]
      return p;
    return gpu_.peak_tflops_for(dtype) * 1e12;  // throws InputError naming the missing rate
  }

  const plan::GpuSpec& gpu_;
  std::array<plan::EfficiencyCurve, 4> curve_{};
  std::array<double, enum_count<DType>()> peak_flops_{};
};

// Costs of the ops that are not kernels, shared by every model.
std::int64_t non_kernel_ns(const plan::Hardware& hw, const Op& op) {
  if (op.kind == OpKind::delay) return std::get<plan::DelayParams>(op.params).ns;
  if (op.kind == OpKind::io) {
    const double bytes = static_cast<double>(std::get<plan::IoParams>(op.params).bytes);
    const double bw = hw.host_link.bytes_per_s();
    return to_ns(hw.host_link.latency_us * 1e-6 + (bw > 0.0 ? bytes / bw : 0.0));
  }
  return 0;  // communication: timed by the network model
}

// cost/roofline — Williams, Waterman & Patterson, "Roofline: an insightful visual performance model
// for multicore architectures", CACM 2009; efficiencies per op class from the GPU catalog.
class Roofline final : public CostModel {
 public:
  explicit Roofline(const plan::Hardware& hw) : hw_(hw), rates_(hw_.gpu) {}
  std::string_view name() const override { return "roofline"; }
  OpCost op_cost(const plan::Plan& plan, const Op& op) const override {
    if (!is_kernel(op.kind)) return {non_kernel_ns(hw_, op), {}};
    return {to_ns(rates_.kernel_s(plan, op)) + hw_.gpu.kernel_launch_ns, {}};
  }

 private:
  plan::Hardware hw_;
  RooflineRates rates_;  // refers to hw_.gpu
};

// --- calibrated ----------------------------------------------------------------------------------

std::array<double, 3> log3(double a, double b, double c) {
  return {std::log(std::max(a, 1.0)), std::log(std::max(b, 1.0)), std::log(std::max(c, 1.0))};
}

// FLOPs of an attention variant relative to its two plain products, 4 * batch * heads * seq_q *
// seq_kv * head_dim (plan::op_flops: flash skips the masked half, backward does 2.5x or 2x).
double attention_variant_factor(bool causal, bool flash, Direction direction) {
  Op op;
  op.kind = OpKind::attention;
  plan::AttentionParams p;
  p.batch = p.heads = p.kv_heads = p.seq_q = p.seq_kv = p.head_dim = 1;
  p.causal = causal, p.flash = flash, p.direction = direction;
  op.params = p;
  return plan::op_flops(op) / 4.0;
}

constexpr std::array<double, 3> kGemmFlopExponents{1.0, 1.0, 1.0};       // 2 m n k
constexpr std::array<double, 3> kAttentionFlopExponents{1.0, 2.0, 1.0};  // (batch heads) seq^2 head_dim

// Related dtypes to borrow GEMM samples from, nearest first.
std::vector<DType> related_dtypes(DType d) {
  switch (d) {
    case DType::fp32:
      return {DType::tf32};
    case DType::tf32:
      return {DType::fp32};
    case DType::bf16:
      return {DType::fp16};
    case DType::fp16:
      return {DType::bf16};
    case DType::fp8_e4m3:
      return {DType::fp8_e5m2, DType::bf16, DType::fp16};
    case DType::fp8_e5m2:
      return {DType::fp8_e4m3, DType::bf16, DType::fp16};
    default:
      return {};
  }
}

// cost/calibrated — measured op times (`clustersim calibrate`) interpolated as described in
// calibration_tables.hpp: multilinear in log-log over the grid of measured shapes, unmeasured grid
// nodes filled by an overhead + rate line corrected by inverse-distance-weighted residuals (Shepard,
// "A two-dimensional interpolation function for irregularly-spaced data", ACM national conference
// 1968); roofline for ops outside the profile, reported as fallbacks. Attention samples of another
// variant (causal, flash, direction) are carried over in proportion to the variants' FLOPs.
class Calibrated final : public CostModel {
 public:
  Calibrated(const plan::Hardware& hw, std::shared_ptr<const plan::CalibrationProfile> profile)
      : hw_(hw), rates_(hw_.gpu), profile_(std::move(profile)) {
    const double overhead = profile_->kernel_overhead_ns;
    std::map<DType, std::vector<detail::ShapeTable::Point>> gemm;
    std::vector<detail::ShapeTable::Point> gemm_all;
    for (const auto& g : profile_->gemm) {
      const detail::ShapeTable::Point p{
          log3(static_cast<double>(g.m), static_cast<double>(g.n), static_cast<double>(g.k)), g.time_ns};
      gemm[g.dtype].push_back(p);
      gemm_all.push_back(p);
    }
    for (auto& [dtype, points] : gemm)
      gemm_.emplace(std::piecewise_construct, std::forward_as_tuple(dtype),
                    std::forward_as_tuple(std::move(points), kGemmFlopExponents, overhead));
    if (!gemm_all.empty()) gemm_all_.emplace(std::move(gemm_all), kGemmFlopExponents, overhead);

    // Attention tables hold times per unit of variant FLOPs (time / variant factor), so relaxed
    // tables can pool variants.
    std::map<AttentionKey, std::vector<detail::ShapeTable::Point>> tables;
    for (const auto& a : profile_->attention) {
      const detail::ShapeTable::Point p{
          log3(static_cast<double>(a.batch * a.heads), static_cast<double>(a.seq), static_cast<double>(a.head_dim)),
          a.time_ns / attention_variant_factor(a.causal, a.flash, a.direction)};
      tables[{a.dtype, a.causal, a.flash, a.direction, 0}].push_back(p);
      tables[{DType::fp32, a.causal, a.flash, a.direction, 1}].push_back(p);
      tables[{DType::fp32, false, false, a.direction, 2}].push_back(p);
      tables[{DType::fp32, false, false, Direction::forward, 3}].push_back(p);
    }
    for (auto& [key, points] : tables)
      attention_.emplace(std::piecewise_construct, std::forward_as_tuple(key),
                         std::forward_as_tuple(std::move(points), kAttentionFlopExponents, overhead));

    for (const auto& [key, samples] : profile_->memory)
      if (!samples.empty()) memory_.emplace(key, detail::LogLogCurve(samples));
    for (const auto& o : profile_->ops) exact_[o.signature] = o.time_ns;
    if (!profile_->host.alloc.empty()) alloc_.emplace(profile_->host.alloc);
  }

  std::int64_t dispatch_ns(const plan::Plan& plan, const Op& op) const override {
    double ns = profile_->host.dispatch_ns;
    if (alloc_)
      for (plan::TensorId id : op.allocs) {
        const plan::Tensor& t = plan.tensors[static_cast<std::size_t>(id)];
        if (t.view_of == plan::kNone && t.bytes > 0) ns += alloc_->time_ns(static_cast<double>(t.bytes));
      }
    return static_cast<std::int64_t>(std::llround(ns));
  }

  std::int64_t wake_ns() const override { return static_cast<std::int64_t>(std::llround(profile_->host.wake_ns)); }

  std::string_view name() const override { return "calibrated"; }

  std::optional<double> overlap_slowdown() const override { return profile_->overlap_compute_slowdown; }
  std::optional<double> comm_busy_delay_ns() const override { return profile_->overlap_comm_busy_delay_ns; }
  std::optional<std::vector<plan::IdleDelaySample>> comm_idle_delay() const override {
    return profile_->overlap_comm_idle_delay;
  }
  std::optional<PollSchedule> comm_poll() const override {
    return profile_->host.poll;
  }
  // The measured sample of the same type, group size and dtype nearest in bytes (log distance).
  std::vector<plan::IdleDelaySample> collective_idle_delay(CollectiveType type, std::int32_t ranks,
                                                           std::int64_t bytes, DType dtype) const override {
    const plan::CollectiveSample* best = nullptr;
    double best_distance = 0.0;
    for (const auto& c : profile_->collectives) {
      if (c.idle_delay.empty() || c.type != type || c.ranks != ranks || c.dtype != dtype) continue;
      const double d = std::fabs(std::log(static_cast<double>(std::max<std::int64_t>(bytes, 1)) /
                                          static_cast<double>(c.bytes)));
      if (best == nullptr || d < best_distance) best = &c, best_distance = d;
    }
    return best == nullptr ? std::vector<plan::IdleDelaySample>{} : best->idle_delay;
  }

  nlohmann::json describe() const override {
    return {
        {"profile", {{"backend", profile_->backend}, {"device", profile_->device}, {"created", profile_->created}}}};
  }

  OpCost op_cost(const plan::Plan& plan, const Op& op) const override {
    if (!is_kernel(op.kind)) return {non_kernel_ns(hw_, op), {}};
    OpCost out;
    if (!exact_.empty()) {
      // A targeted calibration measured this very op (plan::op_signature): its time, not an interpolation.
      if (const auto it = exact_.find(plan::op_signature(plan, op)); it != exact_.end()) {
        out.time_ns = static_cast<std::int64_t>(std::llround(it->second));
        return out;
      }
    }
    std::optional<double> ns;
    switch (op.kind) {
      case OpKind::gemm: {
        const auto& p = std::get<plan::GemmParams>(op.params);
        ns = gemm_ns(static_cast<double>(p.m * p.batch), static_cast<double>(p.n), static_cast<double>(p.k), p.dtype,
                     out.fallback);
        break;
      }
      case OpKind::attention:
        ns = attention_ns(op, out.fallback);
        break;
      case OpKind::conv2d: {
        // Implicit GEMM (Chetlur et al., "cuDNN", 2014): the convolution as the GEMM it lowers to.
        const auto& p = std::get<plan::Conv2dParams>(op.params);
        const double npq = static_cast<double>(p.batch * p.out_height() * p.out_width());
        const double crs = static_cast<double>(p.in_channels * p.kernel_h * p.kernel_w);
        const double nhw = static_cast<double>(p.batch * p.height * p.width);
        const double k = static_cast<double>(p.out_channels);
        std::array<double, 3> mnk{npq, k, crs};
        if (p.pass == plan::ConvPass::backward_data)
          mnk = {nhw, static_cast<double>(p.in_channels), k * p.kernel_h * p.kernel_w};
        if (p.pass == plan::ConvPass::backward_filter) mnk = {k, crs, npq};
        std::string note;
        ns = gemm_ns(mnk[0], mnk[1], mnk[2], p.dtype, note);
        if (ns) out.fallback = "conv2d as implicit GEMM" + (note.empty() ? std::string() : "; " + note);
        break;
      }
      default: {
        const auto chain = plan::calibration_key_chain(plan, op);
        for (std::size_t i = 0; i < chain.size() && !ns; ++i) {
          const auto it = memory_.find(chain[i]);
          if (it == memory_.end()) continue;
          ns = it->second.time_ns(static_cast<double>(plan::op_bytes(plan, op)));
          if (i > 0) out.fallback = chain.front() + " from \"" + chain[i] + "\" samples";
        }
        break;
      }
    }
    if (ns) {
      out.time_ns = static_cast<std::int64_t>(std::llround(*ns));
      if (!exact_.empty() && out.fallback.empty())
        out.fallback = "interpolated: no exact sample of this op in the targeted profile";
      return out;
    }
    out.time_ns = to_ns(rates_.kernel_s(plan, op)) + hw_.gpu.kernel_launch_ns;
    const std::string key = plan::calibration_key(op);
    out.fallback = "roofline (no samples for " + (key.empty() ? std::string(to_string(op.kind)) : key) + ")";
    return out;
  }

 private:
  // dtype, causal, flash, direction, relaxation level (0 exact .. 3 any attention sample).
  using AttentionKey = std::tuple<DType, bool, bool, Direction, int>;

  std::optional<double> gemm_ns(double m, double n, double k, DType dtype, std::string& fallback) const {
    const auto shape = log3(m, n, k);
    if (const auto it = gemm_.find(dtype); it != gemm_.end()) return it->second.time_ns(shape);
    for (DType other : related_dtypes(dtype)) {
      if (const auto it = gemm_.find(other); it != gemm_.end()) {
        fallback = "gemm " + std::string(to_string(dtype)) + " from " + std::string(to_string(other)) + " samples";
        return it->second.time_ns(shape);
      }
    }
    if (!gemm_all_) return std::nullopt;
    fallback = "gemm " + std::string(to_string(dtype)) + " from all gemm samples";
    return gemm_all_->time_ns(shape);
  }

  std::optional<double> attention_ns(const Op& op, std::string& fallback) const {
    const auto& p = std::get<plan::AttentionParams>(op.params);
    const double seq = std::sqrt(static_cast<double>(p.seq_q) * static_cast<double>(p.seq_kv));
    const auto shape = log3(static_cast<double>(p.batch * p.heads), seq, static_cast<double>(p.head_dim));
    const double factor = attention_variant_factor(p.causal, p.flash, p.direction);
    const AttentionKey keys[] = {{p.dtype, p.causal, p.flash, p.direction, 0},
                                 {DType::fp32, p.causal, p.flash, p.direction, 1},
                                 {DType::fp32, false, false, p.direction, 2},
                                 {DType::fp32, false, false, Direction::forward, 3}};
    static constexpr const char* relaxed[] = {"", "other dtypes", "other causal/flash variants",
                                              "all attention samples"};
    for (int level = 0; level < 4; ++level) {
      const auto it = attention_.find(keys[level]);
      if (it == attention_.end()) continue;
      if (level > 0) fallback = "attention from " + std::string(relaxed[level]);
      return it->second.time_ns(shape) * factor;
    }
    // As GEMMs of its products' shape, (batch*heads*seq_q) x seq_kv x head_dim, whose FLOPs are
    // 2 b h s_q s_kv d: the attention op does 2 * factor times that.
    std::string note;
    const auto ns = gemm_ns(static_cast<double>(p.batch * p.heads * p.seq_q), static_cast<double>(p.seq_kv),
                            static_cast<double>(p.head_dim), p.dtype, note);
    if (!ns) return std::nullopt;
    fallback = "attention as GEMM" + (note.empty() ? std::string() : "; " + note);
    return *ns * 2.0 * factor;
  }

  plan::Hardware hw_;
  RooflineRates rates_;  // refers to hw_.gpu
  std::shared_ptr<const plan::CalibrationProfile> profile_;
  std::map<DType, detail::ShapeTable> gemm_;
  std::optional<detail::ShapeTable> gemm_all_;
  std::map<AttentionKey, detail::ShapeTable> attention_;
  std::map<std::string, detail::LogLogCurve> memory_;
  std::map<std::string, double> exact_;  // op signature -> measured ns
  std::optional<detail::LogLogCurve> alloc_;
};

using Factory =
    std::function<std::unique_ptr<CostModel>(const plan::Hardware&, std::shared_ptr<const plan::CalibrationProfile>)>;
struct Entry {
  std::string_view name;
  Factory make;
};

const std::vector<Entry>& registry() {
  static const std::vector<Entry> entries = {
      // cost/roofline — Williams, Waterman & Patterson, CACM 2009.
      {"roofline",
       [](const plan::Hardware& hw, std::shared_ptr<const plan::CalibrationProfile>) -> std::unique_ptr<CostModel> {
         return std::make_unique<Roofline>(hw);
       }},
      // cost/calibrated — measured profile interpolation (Shepard 1968 for the shape blend), roofline
      // fallback.
      {"calibrated",
       [](const plan::Hardware& hw,
          std::shared_ptr<const plan::CalibrationProfile> profile) -> std::unique_ptr<CostModel> {
         if (!profile)
           throw InputError("simulation.profile", "nothing",
                            "a calibration profile (\"clustersim.profile/1\", from `clustersim calibrate`) for the "
                            "\"calibrated\" cost model");
         return std::make_unique<Calibrated>(hw, std::move(profile));
       }},
  };
  return entries;
}

}  // namespace

double roofline_kernel_s(const plan::Plan& plan, const Op& op, const plan::GpuSpec& gpu) {
  return RooflineRates(gpu).kernel_s(plan, op);
}

std::unique_ptr<CostModel> make_cost_model(std::string_view name, const plan::Hardware& hardware,
                                           std::shared_ptr<const plan::CalibrationProfile> profile) {
  for (const auto& e : registry())
    if (e.name == name) return e.make(hardware, std::move(profile));
  std::string allowed = "one of ";
  const auto names = cost_model_names();
  for (std::size_t i = 0; i < names.size(); ++i) allowed += (i ? ", \"" : "\"") + names[i] + "\"";
  throw InputError("simulation.cost_model", "\"" + std::string(name) + "\"", allowed);
}

std::vector<std::string> cost_model_names() {
  std::vector<std::string> out;
  for (const auto& e : registry()) out.emplace_back(e.name);
  return out;
}

}  // namespace clustersim::engine
