// Interpolation of measured op times; the schemes are described in calibration_tables.hpp.
#include "calibration_tables.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "clustersim/plan/error.hpp"

namespace clustersim::engine::detail {

namespace {

// Sorted by bytes, equal sizes merged (mean time).
std::vector<plan::ByteTimeSample> sorted_unique(std::vector<plan::ByteTimeSample> samples) {
  require(!samples.empty(), "an interpolation curve needs at least one sample");
  std::sort(samples.begin(), samples.end(), [](const auto& a, const auto& b) {
    return a.bytes < b.bytes || (a.bytes == b.bytes && a.time_ns < b.time_ns);
  });
  std::vector<plan::ByteTimeSample> out;
  std::size_t count = 0;
  for (const auto& s : samples) {
    if (!out.empty() && out.back().bytes == s.bytes) {
      ++count;
      out.back().time_ns += (s.time_ns - out.back().time_ns) / static_cast<double>(count);
    } else {
      out.push_back(s);
      count = 1;
    }
  }
  return out;
}

// Index i such that x[i] <= v < x[i+1]; requires x.size() >= 2 and x[0] <= v < x.back().
std::size_t segment(const std::vector<double>& x, double v) {
  const auto it = std::upper_bound(x.begin(), x.end(), v);
  return static_cast<std::size_t>(it - x.begin()) - 1;
}

}  // namespace

LogLogCurve::LogLogCurve(std::vector<plan::ByteTimeSample> samples) {
  for (const auto& s : sorted_unique(std::move(samples))) {
    log_bytes_.push_back(std::log(static_cast<double>(s.bytes)));
    log_time_.push_back(std::log(s.time_ns));
  }
}

double LogLogCurve::time_ns(double bytes) const {
  const double x = std::log(std::max(bytes, 1.0));
  const std::size_t n = log_bytes_.size();
  if (x >= log_bytes_.back()) return std::exp(log_time_.back() + (x - log_bytes_.back()));  // constant bandwidth
  if (x <= log_bytes_.front()) {
    double slope = 0.0;
    if (n >= 2) slope = (log_time_[1] - log_time_[0]) / (log_bytes_[1] - log_bytes_[0]);
    slope = std::clamp(slope, 0.0, 1.0);
    return std::exp(log_time_.front() + slope * (x - log_bytes_.front()));
  }
  const std::size_t i = segment(log_bytes_, x);
  const double f = (x - log_bytes_[i]) / (log_bytes_[i + 1] - log_bytes_[i]);
  return std::exp(log_time_[i] + f * (log_time_[i + 1] - log_time_[i]));
}

LinearCurve::LinearCurve(std::vector<plan::ByteTimeSample> samples) {
  for (const auto& s : sorted_unique(std::move(samples))) {
    bytes_.push_back(static_cast<double>(s.bytes));
    time_.push_back(s.time_ns);
  }
}

double LinearCurve::time_ns(double bytes) const {
  const std::size_t n = bytes_.size();
  if (n == 1) return bytes <= bytes_[0] ? time_[0] : time_[0] * bytes / bytes_[0];
  if (bytes >= bytes_.back()) {
    const double slope = std::max(0.0, (time_[n - 1] - time_[n - 2]) / (bytes_[n - 1] - bytes_[n - 2]));
    return time_.back() + slope * (bytes - bytes_.back());
  }
  if (bytes <= bytes_.front()) {
    const double slope = std::max(0.0, (time_[1] - time_[0]) / (bytes_[1] - bytes_[0]));
    return std::max(0.0, time_.front() - slope * (bytes_.front() - bytes));
  }
  const std::size_t i = segment(bytes_, bytes);
  const double f = (bytes - bytes_[i]) / (bytes_[i + 1] - bytes_[i]);
  return time_[i] + f * (time_[i + 1] - time_[i]);
}

ShapeTable::ShapeTable(std::vector<Point> points, std::array<double, 3> flop_exponents, double overhead_ns)
    : exponents_(flop_exponents) {
  require(!points.empty(), "a shape table needs at least one sample");
  // Merge repeated shapes (mean time), in a deterministic order.
  std::sort(points.begin(), points.end(), [](const Point& a, const Point& b) {
    return a.log_shape < b.log_shape || (a.log_shape == b.log_shape && a.time_ns < b.time_ns);
  });
  std::size_t count = 0;
  for (const auto& p : points) {
    require(p.time_ns > 0.0, "calibration samples need positive times");
    if (!points_.empty() && points_.back().log_shape == p.log_shape) {
      ++count;
      points_.back().time_ns += (p.time_ns - points_.back().time_ns) / static_cast<double>(count);
    } else {
      points_.push_back(p);
      count = 1;
    }
  }
  for (std::size_t d = 0; d < 3; ++d) {
    for (const auto& p : points_) axes_[d].push_back(p.log_shape[d]);
    std::sort(axes_[d].begin(), axes_[d].end());
    axes_[d].erase(std::unique(axes_[d].begin(), axes_[d].end()), axes_[d].end());
  }
  for (const auto& p : points_) {
    Node node{};
    for (std::size_t d = 0; d < 3; ++d)
      node[d] = static_cast<std::int32_t>(std::lower_bound(axes_[d].begin(), axes_[d].end(), p.log_shape[d]) -
                                          axes_[d].begin());
    measured_[node] = std::log(p.time_ns);
  }

  // The smooth model that fills unmeasured nodes: t = a + b x (x = FLOPs relative to the smallest
  // sample, for conditioning), least squares on relative error (weights 1 / t^2).
  double min_log_flops = std::numeric_limits<double>::max();
  for (const auto& p : points_) min_log_flops = std::min(min_log_flops, log_flops(p.log_shape));
  flop_scale_ = min_log_flops;
  double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0, min_t = std::numeric_limits<double>::max();
  for (const auto& p : points_) {
    const double w = 1.0 / (p.time_ns * p.time_ns), x = std::exp(log_flops(p.log_shape) - flop_scale_);
    sw += w, sx += w * x, sy += w * p.time_ns, sxx += w * x * x, sxy += w * x * p.time_ns;
    min_t = std::min(min_t, p.time_ns);
  }
  const double det = sw * sxx - sx * sx;
  double a = -1.0, b = -1.0;
  if (points_.size() >= 2 && det > 1e-12 * sw * sxx) {
    b = (sw * sxy - sx * sy) / det;
    a = (sy - b * sx) / sw;
  }
  if (!(b > 0.0) || !(a >= 0.0) || a > min_t) {
    // A fixed intercept (the launch overhead, at most half the fastest sample), the rate alone fitted.
    a = std::clamp(overhead_ns, 0.0, 0.5 * min_t);
    double num = 0, den = 0;
    for (const auto& p : points_) {
      const double w = 1.0 / (p.time_ns * p.time_ns), x = std::exp(log_flops(p.log_shape) - flop_scale_);
      num += w * (p.time_ns - a) * x;
      den += w * x * x;
    }
    b = num / den;
  }
  intercept_ns_ = a;
  slope_ns_per_flop_ = b;
  for (const auto& p : points_)
    residual_.push_back(std::log(p.time_ns / (a + b * std::exp(log_flops(p.log_shape) - flop_scale_))));
}

double ShapeTable::log_flops(const std::array<double, 3>& log_shape) const {
  return exponents_[0] * log_shape[0] + exponents_[1] * log_shape[1] + exponents_[2] * log_shape[2];
}

double ShapeTable::model_log_time(const std::array<double, 3>& log_shape) const {
  double wsum = 0.0, rsum = 0.0;
  for (std::size_t i = 0; i < points_.size(); ++i) {
    double d2 = 0.0;
    for (std::size_t c = 0; c < 3; ++c) {
      const double d = log_shape[c] - points_[i].log_shape[c];
      d2 += d * d;
    }
    if (d2 < 1e-18) return std::log(points_[i].time_ns);
    wsum += 1.0 / d2;
    rsum += residual_[i] / d2;
  }
  const double base = intercept_ns_ + slope_ns_per_flop_ * std::exp(log_flops(log_shape) - flop_scale_);
  return std::log(base) + rsum / wsum;
}

double ShapeTable::node_log_time(const Node& node) const {
  if (const auto it = measured_.find(node); it != measured_.end()) return it->second;
  const std::lock_guard<std::mutex> lock(mutex_);
  if (const auto it = filled_.find(node); it != filled_.end()) return it->second;
  const std::array<double, 3> shape{axes_[0][static_cast<std::size_t>(node[0])],
                                    axes_[1][static_cast<std::size_t>(node[1])],
                                    axes_[2][static_cast<std::size_t>(node[2])]};
  const double v = model_log_time(shape);
  filled_.emplace(node, v);
  return v;
}

double ShapeTable::time_ns(const std::array<double, 3>& log_shape) const {
  // Clamp into the grid; find the cell and the position in it per dimension.
  std::array<double, 3> clamped{};
  std::array<std::int32_t, 3> lo{}, hi{};
  std::array<double, 3> w{};
  for (std::size_t d = 0; d < 3; ++d) {
    const auto& axis = axes_[d];
    clamped[d] = std::clamp(log_shape[d], axis.front(), axis.back());
    const auto up = std::lower_bound(axis.begin(), axis.end(), clamped[d]);
    hi[d] = static_cast<std::int32_t>(up - axis.begin());
    if (*up == clamped[d]) {
      lo[d] = hi[d];
      w[d] = 0.0;
    } else {
      lo[d] = hi[d] - 1;
      w[d] = (clamped[d] - axis[static_cast<std::size_t>(lo[d])]) /
             (axis[static_cast<std::size_t>(hi[d])] - axis[static_cast<std::size_t>(lo[d])]);
    }
  }
  double log_t = 0.0;
  for (int corner = 0; corner < 8; ++corner) {
    double weight = 1.0;
    Node node{};
    for (std::size_t d = 0; d < 3; ++d) {
      const bool upper = (corner >> d) & 1;
      if (upper && hi[d] == lo[d]) {
        weight = 0.0;
        break;
      }
      node[d] = upper ? hi[d] : lo[d];
      weight *= upper ? w[d] : 1.0 - (hi[d] == lo[d] ? 0.0 : w[d]);
    }
    if (weight > 0.0) log_t += weight * node_log_time(node);
  }
  // Outside the measured range: the nearest measured throughput, scaled by FLOPs.
  return std::exp(log_t + log_flops(log_shape) - log_flops(clamped));
}

MeasuredComm::MeasuredComm(const plan::CalibrationProfile& profile) {
  std::map<Key, std::vector<plan::ByteTimeSample>> grouped;
  for (const auto& c : profile.collectives) grouped[Key{c.type, c.placement, c.ranks, c.dtype}].push_back({c.bytes, c.time_ns});
  for (auto& [key, samples] : grouped) series_.emplace(key, LinearCurve(std::move(samples)));
  if (!profile.p2p.empty()) p2p_.emplace(profile.p2p);
}

namespace {
// Bandwidth factor of a ring collective on n ranks (collective.hpp), used to carry a measured series
// over to another group size.
double ring_factor(CollectiveType type, std::int32_t n) {
  const double f = (static_cast<double>(n) - 1.0) / static_cast<double>(n);
  switch (type) {
    case CollectiveType::all_reduce:
      return 2.0 * f;
    case CollectiveType::broadcast:
    case CollectiveType::reduce:
      return 1.0;
    default:
      return f;
  }
}
}  // namespace

std::optional<double> MeasuredComm::collective_ns(CollectiveType type, std::int32_t ranks, std::int64_t bytes,
                                                  plan::Placement placement, DType dtype,
                                                  std::string& fallback) const {
  fallback.clear();
  if (ranks <= 1 || bytes <= 0) return 0.0;
  const auto exact = series_.find(Key{type, placement, ranks, dtype});
  if (exact != series_.end()) return exact->second.time_ns(static_cast<double>(bytes));
  if (dtype != DType::fp32) {
    const auto as_fp32 = series_.find(Key{type, placement, ranks, DType::fp32});
    if (as_fp32 != series_.end()) {
      fallback = std::string(to_string(type)) + " " + std::string(to_string(dtype)) + " from fp32 samples";
      return as_fp32->second.time_ns(static_cast<double>(bytes));
    }
  }
  // Nearest group size (log distance; the larger on ties), same placement, then same dtype first.
  const Key* best = nullptr;
  double best_score = std::numeric_limits<double>::max();
  for (const auto& [key, curve] : series_) {
    if (key.type != type || key.ranks <= 1) continue;
    const double score = std::fabs(std::log(static_cast<double>(key.ranks) / ranks)) +
                         (key.placement == placement ? 0.0 : 1000.0) + (key.dtype == dtype ? 0.0 : 100.0) -
                         1e-9 * key.ranks;
    if (score < best_score) {
      best_score = score;
      best = &key;
    }
  }
  if (best == nullptr) return std::nullopt;
  fallback = std::string(to_string(type)) + " on " + std::to_string(ranks) + " ranks (" +
             (placement == plan::Placement::intra ? "intra" : "inter") + ") scaled from " +
             std::to_string(best->ranks) + " ranks (" +
             (best->placement == plan::Placement::intra ? "intra" : "inter") + ")";
  return series_.at(*best).time_ns(static_cast<double>(bytes)) * ring_factor(type, ranks) /
         ring_factor(type, best->ranks);
}

std::optional<double> MeasuredComm::p2p_ns(std::int64_t bytes) const {
  if (!p2p_) return std::nullopt;
  if (bytes <= 0) return 0.0;
  return p2p_->time_ns(static_cast<double>(bytes));
}

}  // namespace clustersim::engine::detail
