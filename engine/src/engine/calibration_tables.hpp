// Interpolation of measured op times (private to the engine). The calibrated cost model builds these
// from a plan::CalibrationProfile; the network model uses MeasuredComm for collectives and p2p.
// Every scheme is exact at the measured points and monotone between two points whose times are.
//  * LogLogCurve (memory-bound ops): piecewise linear in log(bytes)-log(time); above the last point
//    constant bandwidth (time proportional to bytes); below the first, the first segment's log-log
//    slope clamped to [0, 1] (towards a latency floor).
//  * LinearCurve (collectives, p2p): piecewise linear in bytes-time, as an alpha-beta cost is;
//    beyond the last point the last segment extended (slope >= 0); below the first point the first
//    segment extended down to a time >= 0.
//  * ShapeTable (GEMM, attention): multilinear interpolation of log(time) over the grid spanned by
//    the measured values of each dimension in log space (log m, log n, log k for GEMMs). Between
//    grid nodes a dimension contributes linearly in log-log, so time scales with FLOPs and is
//    monotone along each axis whenever the node times are. Grid nodes that were not measured are
//    filled from a smooth model of all samples: a base line t = a + b * flops (least squares on
//    relative error, a >= 0, b > 0: an overhead plus a sustained rate) times exp(r), r the log
//    residual of the samples blended by inverse squared distance in log-shape space (Shepard 1968).
//    Beyond the measured range a shape is clamped to it and the time scaled by the FLOPs ratio (the
//    throughput of the nearest measured shape).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "clustersim/plan/profile.hpp"

namespace clustersim::engine::detail {

class LogLogCurve {
 public:
  explicit LogLogCurve(std::vector<plan::ByteTimeSample> samples);  // at least one sample
  double time_ns(double bytes) const;

 private:
  std::vector<double> log_bytes_, log_time_;
};

class LinearCurve {
 public:
  explicit LinearCurve(std::vector<plan::ByteTimeSample> samples);  // at least one sample
  double time_ns(double bytes) const;

 private:
  std::vector<double> bytes_, time_;
};

class ShapeTable {
 public:
  struct Point {
    std::array<double, 3> log_shape{};
    double time_ns = 0.0;
  };
  // FLOPs are proportional to exp(sum_d flop_exponents[d] * log_shape[d]) (1, 1, 1 for a GEMM's
  // m, n, k). `overhead_ns` is a hint for the base line's intercept when the samples cannot fix it.
  ShapeTable(std::vector<Point> points, std::array<double, 3> flop_exponents, double overhead_ns);
  double time_ns(const std::array<double, 3>& log_shape) const;

 private:
  using Node = std::array<std::int32_t, 3>;
  double log_flops(const std::array<double, 3>& log_shape) const;
  double node_log_time(const Node& node) const;  // measured, or filled from the smooth model
  double model_log_time(const std::array<double, 3>& log_shape) const;

  std::array<double, 3> exponents_{};
  std::array<std::vector<double>, 3> axes_;
  std::map<Node, double> measured_;  // node -> log time
  std::vector<Point> points_;
  std::vector<double> residual_;
  double intercept_ns_ = 0.0, slope_ns_per_flop_ = 0.0, flop_scale_ = 0.0;
  mutable std::mutex mutex_;
  mutable std::map<Node, double> filled_;
};

// Measured collectives and p2p transfers of a profile.
class MeasuredComm {
 public:
  explicit MeasuredComm(const plan::CalibrationProfile& profile);
  // Time of a collective, or nullopt when the profile has no sample of `type`. `fallback` is set
  // when the series used differs in ranks or placement (its time is scaled by the ring factor).
  // Series of the collective's dtype first; a dtype without samples uses the fp32 series at the
  // same bytes (and says so in `fallback`).
  std::optional<double> collective_ns(CollectiveType type, std::int32_t ranks, std::int64_t bytes,
                                      plan::Placement placement, DType dtype, std::string& fallback) const;
  std::optional<double> p2p_ns(std::int64_t bytes) const;

 private:
  struct Key {
    CollectiveType type;
    plan::Placement placement;
    std::int32_t ranks;
    DType dtype;
    auto operator<=>(const Key&) const = default;
  };
  std::map<Key, LinearCurve> series_;
  std::optional<LinearCurve> p2p_;
};

}  // namespace clustersim::engine::detail
