// Compute cost models: how long one device-local op (a kernel, a host transfer, a delay) takes on an
// unperturbed device. Registered by name ("roofline", "calibrated"); an unknown name throws
// InputError listing the valid ones. The engine costs every op of a program once, before the event
// loop, and scales by per-rank stragglers and the compute/communication overlap factor at run time.
// Communication ops are not costed here: the network model times them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "clustersim/engine/simulate.hpp"
#include "clustersim/plan/hardware.hpp"
#include "clustersim/plan/plan.hpp"
#include "clustersim/plan/profile.hpp"

namespace clustersim::engine {

struct OpCost {
  std::int64_t time_ns = 0;
  // How the time was obtained when the model lacked direct data for the op, e.g.
  // "calibrated gemm bf16 from fp32 samples" or "roofline (no gemm samples)"; empty otherwise.
  std::string fallback;
};

class CostModel {
 public:
  virtual ~CostModel() = default;
  virtual std::string_view name() const = 0;
  // Time of a device-local op. Kernels (gemm ... cast) include the per-kernel launch overhead;
  // io costs host-link latency + bytes / host-link bandwidth; delay costs its ns. Communication
  // ops (collective, send, recv) cost 0 here. Throws InputError when the hardware lacks a rate the
  // op needs (e.g. no fp8 peak).
  virtual OpCost op_cost(const plan::Plan& plan, const plan::Op& op) const = 0;
  // Compute slowdown while communication overlaps, when the model's data measured one.
  virtual std::optional<double> overlap_slowdown() const { return std::nullopt; }
  // Extra completion time of a send or recv whose transfer ends while its rank runs a kernel,
  // when the model's data measured one (plan::CalibrationProfile::overlap_comm_busy_delay_ns).
  virtual std::optional<double> comm_busy_delay_ns() const { return std::nullopt; }
  // Extra time of a transfer into a rank that computed nothing for a while, when the model's data
  // measured it (plan::CalibrationProfile::overlap_comm_idle_delay).
  virtual std::optional<std::vector<plan::IdleDelaySample>> comm_idle_delay() const { return std::nullopt; }
  // How much longer a collective of `ranks` members takes when a member arrived first and idled,
  // by how long (plan::CollectiveSample::idle_delay); empty when the model's data has none.
  virtual std::vector<plan::IdleDelaySample> collective_idle_delay(CollectiveType type, std::int32_t ranks,
                                                                   std::int64_t bytes, DType dtype) const {
    (void)type, (void)ranks, (void)bytes, (void)dtype;
    return {};
  }
  // How waiting communication threads poll, when the model's data says (plan::HostOverheads).
  virtual std::optional<PollSchedule> comm_poll() const { return std::nullopt; }
  // Host time between an op becoming ready and its start, outside its span (any op kind): the
  // executor's dispatch and the allocation of the op's tensors (plan::HostOverheads). 0 unless the
  // model's data measured it; GPU kernel launch costs are part of op_cost instead.
  virtual std::int64_t dispatch_ns(const plan::Plan& plan, const plan::Op& op) const {
    (void)plan;
    (void)op;
    return 0;
  }
  // Extra start delay of an op released by an op of another stream (a waiting thread wakes).
  virtual std::int64_t wake_ns() const { return 0; }
  // Facts for trace.extra (the profile used, ...).
  virtual nlohmann::json describe() const { return nlohmann::json::object(); }
};

// Creates the named model. "calibrated" needs `profile` (InputError otherwise). Unknown names throw
// InputError("simulation.cost_model", name, "one of ...").
std::unique_ptr<CostModel> make_cost_model(std::string_view name, const plan::Hardware& hardware,
                                           std::shared_ptr<const plan::CalibrationProfile> profile = nullptr);
std::vector<std::string> cost_model_names();

// The efficiency-curve class an op is costed under in GpuSpec::efficiency: "gemm", "attention",
// "conv", or "memory" (elementwise, norm, softmax, embedding, cast, optimizer).
std::string_view efficiency_class(OpKind kind);

// The roofline time of a kernel, in seconds, without the launch overhead:
//   max(flops / (peak(dtype) * eff_class(flops)), bytes / (hbm_bw * eff_memory(bytes)))
// with dtype the operand dtype for gemm/attention/conv (tf32 at the tf32 rate) and fp32 (CUDA-core
// rate) for memory-bound kinds, whose compute term uses the "memory" curve at `bytes`.
// Williams, Waterman & Patterson, "Roofline", CACM 2009.
double roofline_kernel_s(const plan::Plan& plan, const plan::Op& op, const plan::GpuSpec& gpu);

}  // namespace clustersim::engine
