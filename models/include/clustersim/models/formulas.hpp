// Closed-form formulas from the literature, used as test oracles and cross-checks (never as the
// model itself: the engine's numbers come from simulating the plan). Each cites its source.
#pragma once

#include <cstdint>

namespace clustersim::models::formulas {

// Model-state bytes per GPU with Adam and mixed precision (K = 12), Rajbhandari et al., SC'20, Fig. 1:
// stage 0: 16 psi; stage 1: 4 psi + 12 psi / Nd; stage 2: 2 psi + 14 psi / Nd; stage 3: 16 psi / Nd.
double zero_model_state_bytes(double psi, int stage, int dp);

// Activation bytes per transformer layer with 16-bit activations, Korthikanti et al., 2022 (Table 2):
// s = sequence, b = micro batch, h = hidden, a = heads, t = tensor parallel size.
double activation_bytes_per_layer(double s, double b, double h, double a);               // sbh(34 + 5as/h)
double activation_bytes_per_layer_tp(double s, double b, double h, double a, double t);  // sbh(10 + 24/t + 5as/(ht))
double activation_bytes_per_layer_tp_sp(double s, double b, double h, double a, double t);  // sbh/t (34 + 5as/h)
double activation_bytes_per_layer_selective(double s, double b, double h, double t);       // 34 sbh / t
double activation_bytes_per_layer_full_recompute(double s, double b, double h);            // 2 sbh

// Pipeline bubble fraction, Narayanan et al., SC'21: (p-1)/(m+p-1) of total time for GPipe/1F1B;
// interleaved with v chunks: (p-1)/(v m) relative to the ideal time.
double bubble_fraction(int p, int m);
double interleaved_bubble_over_ideal(int p, int m, int v);

// Ring collectives, alpha-beta (Thakur et al. 2005; Patarasuk & Yuan 2009): seconds for S bytes on n
// ranks with latency alpha (s) and bandwidth B (bytes/s).
double ring_all_reduce_s(int n, double bytes, double alpha_s, double bytes_per_s);
double ring_reduce_scatter_s(int n, double bytes, double alpha_s, double bytes_per_s);
double ring_all_gather_s(int n, double bytes, double alpha_s, double bytes_per_s);

// nccl-tests bus bandwidth factors (NVIDIA nccl-tests, doc/PERFORMANCE.md).
double bus_bandwidth_factor_all_reduce(int n);  // 2 (n-1) / n
double bus_bandwidth_factor_gather(int n);      // (n-1) / n  (all-gather, reduce-scatter, all-to-all)

// Training FLOPs per token: 6 N + 12 L h s (Kaplan et al. 2020; Narayanan et al. SC'21).
double training_flops_per_token(double params, double layers, double hidden, double seq);

// Effective (global) batch = micro batch x DP x accumulation steps.
inline std::int64_t effective_batch(std::int64_t micro, std::int64_t dp, std::int64_t accumulation) {
  return micro * dp * accumulation;
}

}  // namespace clustersim::models::formulas
