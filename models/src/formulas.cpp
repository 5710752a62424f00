// Closed-form oracles; see formulas.hpp for the sources.
#include "clustersim/models/formulas.hpp"

namespace clustersim::models::formulas {

double zero_model_state_bytes(double psi, int stage, int dp) {
  const double nd = dp;
  switch (stage) {
    case 0:
      return 16.0 * psi;
    case 1:
      return 4.0 * psi + 12.0 * psi / nd;
    case 2:
      return 2.0 * psi + 14.0 * psi / nd;
    default:
      return 16.0 * psi / nd;
  }
}

double activation_bytes_per_layer(double s, double b, double h, double a) { return s * b * h * (34.0 + 5.0 * a * s / h); }
double activation_bytes_per_layer_tp(double s, double b, double h, double a, double t) {
  return s * b * h * (10.0 + 24.0 / t + 5.0 * a * s / (h * t));
}
double activation_bytes_per_layer_tp_sp(double s, double b, double h, double a, double t) {
  return s * b * h / t * (34.0 + 5.0 * a * s / h);
}
double activation_bytes_per_layer_selective(double s, double b, double h, double t) { return 34.0 * s * b * h / t; }
double activation_bytes_per_layer_full_recompute(double s, double b, double h) { return 2.0 * s * b * h; }

double bubble_fraction(int p, int m) { return static_cast<double>(p - 1) / static_cast<double>(m + p - 1); }
double interleaved_bubble_over_ideal(int p, int m, int v) {
  return static_cast<double>(p - 1) / (static_cast<double>(v) * static_cast<double>(m));
}

double ring_all_reduce_s(int n, double bytes, double alpha_s, double bytes_per_s) {
  if (n <= 1) return 0.0;
  return 2.0 * (n - 1) * alpha_s + 2.0 * (n - 1) / n * bytes / bytes_per_s;
}
double ring_reduce_scatter_s(int n, double bytes, double alpha_s, double bytes_per_s) {
  if (n <= 1) return 0.0;
  return (n - 1) * alpha_s + static_cast<double>(n - 1) / n * bytes / bytes_per_s;
}
double ring_all_gather_s(int n, double bytes, double alpha_s, double bytes_per_s) {
  return ring_reduce_scatter_s(n, bytes, alpha_s, bytes_per_s);
}

double bus_bandwidth_factor_all_reduce(int n) { return 2.0 * (n - 1) / n; }
double bus_bandwidth_factor_gather(int n) { return static_cast<double>(n - 1) / n; }

double training_flops_per_token(double params, double layers, double hidden, double seq) {
  return 6.0 * params + 12.0 * layers * hidden * seq;
}

}  // namespace clustersim::models::formulas
