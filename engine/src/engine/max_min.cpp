// Progressive filling for max-min fair rates (see max_min.hpp).
#include "max_min.hpp"

#include <algorithm>
#include <limits>

#include "clustersim/plan/error.hpp"

namespace clustersim::engine::detail {

MaxMinSolver::MaxMinSolver(const std::vector<double>& capacity)
    : capacity_(capacity), local_of_link_(capacity.size(), -1) {}

void MaxMinSolver::solve(std::int32_t flows, const std::int32_t* route_offset, const std::int32_t* route_links,
                         std::vector<double>& rates) {
  rates.assign(static_cast<std::size_t>(flows), 0.0);
  if (flows == 0) return;
  // Local link ids, and each link's unfrozen flow count.
  links_.clear();
  unfrozen_.clear();
  for (std::int32_t i = route_offset[0]; i < route_offset[flows]; ++i) {
    const std::int32_t link = route_links[i];
    std::int32_t& local = local_of_link_[static_cast<std::size_t>(link)];
    if (local < 0) {
      local = static_cast<std::int32_t>(links_.size());
      links_.push_back(link);
      unfrozen_.push_back(0);
    }
    ++unfrozen_[static_cast<std::size_t>(local)];
  }
  const std::size_t n_links = links_.size();
  remaining_.resize(n_links);
  for (std::size_t l = 0; l < n_links; ++l) remaining_[l] = capacity_[static_cast<std::size_t>(links_[l])];
  // Link -> flows (CSR).
  adjacency_offset_.assign(n_links + 1, 0);
  for (std::size_t l = 0; l < n_links; ++l) adjacency_offset_[l + 1] = adjacency_offset_[l] + unfrozen_[l];
  adjacency_.resize(static_cast<std::size_t>(adjacency_offset_[n_links]));
  cursor_.assign(adjacency_offset_.begin(), adjacency_offset_.end() - 1);
  for (std::int32_t f = 0; f < flows; ++f)
    for (std::int32_t i = route_offset[f]; i < route_offset[f + 1]; ++i) {
      const auto local = static_cast<std::size_t>(local_of_link_[static_cast<std::size_t>(route_links[i])]);
      adjacency_[static_cast<std::size_t>(cursor_[local]++)] = f;
    }

  frozen_.assign(static_cast<std::size_t>(flows), 0);
  std::int32_t left = flows;
  while (left > 0) {
    double share = std::numeric_limits<double>::infinity();
    for (std::size_t l = 0; l < n_links; ++l)
      if (unfrozen_[l] > 0) share = std::min(share, std::max(0.0, remaining_[l]) / unfrozen_[l]);
    require(share < std::numeric_limits<double>::infinity(), "max-min solve without a bottleneck");
    const double limit = share * (1.0 + 1e-12);
    for (std::size_t l = 0; l < n_links; ++l) {
      if (unfrozen_[l] == 0 || std::max(0.0, remaining_[l]) / unfrozen_[l] > limit) continue;
      for (std::int32_t a = adjacency_offset_[l]; a < adjacency_offset_[l + 1]; ++a) {
        const std::int32_t f = adjacency_[static_cast<std::size_t>(a)];
        if (frozen_[static_cast<std::size_t>(f)]) continue;
        frozen_[static_cast<std::size_t>(f)] = 1;
        rates[static_cast<std::size_t>(f)] = share;
        --left;
        for (std::int32_t i = route_offset[f]; i < route_offset[f + 1]; ++i) {
          const auto local = static_cast<std::size_t>(local_of_link_[static_cast<std::size_t>(route_links[i])]);
          remaining_[local] -= share;
          --unfrozen_[local];
        }
      }
    }
  }
  for (std::int32_t link : links_) local_of_link_[static_cast<std::size_t>(link)] = -1;
}

}  // namespace clustersim::engine::detail
