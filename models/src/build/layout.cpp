// Rank layout and groups; see layout.hpp.
#include "layout.hpp"

#include <sstream>

namespace clustersim::models::build {

RankLayout::RankLayout(std::int32_t tp, std::int32_t dp, std::int32_t pp, const std::string& placement)
    : tp_(tp), dp_(dp), pp_(pp) {
  std::vector<std::string> order;
  std::stringstream ss(placement);
  std::string item;
  while (std::getline(ss, item, '-')) order.push_back(item);
  require(order.size() == 3, "placement must name tp, dp and pp: " + placement);
  const std::array<std::int32_t, 3> sizes{tp, dp, pp};
  std::int32_t stride = 1;
  for (const auto& dim : order) {
    const int i = dim == "tp" ? 0 : dim == "dp" ? 1 : dim == "pp" ? 2 : -1;
    require(i >= 0, "placement names an unknown dimension: " + dim);
    stride_[static_cast<std::size_t>(i)] = stride;
    stride *= sizes[static_cast<std::size_t>(i)];
  }
}

std::int32_t RankLayout::rank_of(RankCoord c) const {
  return c.tp * stride_[0] + c.dp * stride_[1] + c.pp * stride_[2];
}

RankCoord RankLayout::coord_of(std::int32_t rank) const {
  RankCoord c;
  c.tp = (rank / stride_[0]) % tp_;
  c.dp = (rank / stride_[1]) % dp_;
  c.pp = (rank / stride_[2]) % pp_;
  return c;
}

void RankLayout::add_groups(plan::Plan& plan, bool embedding_group) const {
  auto add = [&](GroupKind kind, std::vector<std::int32_t> ranks) {
    plan::Group g;
    g.id = static_cast<std::int32_t>(plan.groups.size());
    g.kind = kind;
    g.ranks = std::move(ranks);
    plan.groups.push_back(std::move(g));
  };
  std::vector<std::int32_t> all(static_cast<std::size_t>(world()));
  for (std::int32_t r = 0; r < world(); ++r) all[static_cast<std::size_t>(r)] = r;
  add(GroupKind::world, all);
  for (std::int32_t p = 0; p < pp_; ++p)
    for (std::int32_t d = 0; d < dp_; ++d) {
      std::vector<std::int32_t> ranks;
      for (std::int32_t t = 0; t < tp_; ++t) ranks.push_back(rank_of({t, d, p}));
      add(GroupKind::tp, std::move(ranks));
    }
  for (std::int32_t p = 0; p < pp_; ++p)
    for (std::int32_t t = 0; t < tp_; ++t) {
      std::vector<std::int32_t> ranks;
      for (std::int32_t d = 0; d < dp_; ++d) ranks.push_back(rank_of({t, d, p}));
      add(GroupKind::dp, std::move(ranks));
    }
  for (std::int32_t d = 0; d < dp_; ++d)
    for (std::int32_t t = 0; t < tp_; ++t) {
      std::vector<std::int32_t> ranks;
      for (std::int32_t p = 0; p < pp_; ++p) ranks.push_back(rank_of({t, d, p}));
      add(GroupKind::pp, std::move(ranks));
    }
  if (embedding_group && pp_ > 1)
    for (std::int32_t d = 0; d < dp_; ++d)
      for (std::int32_t t = 0; t < tp_; ++t) add(GroupKind::emb, {rank_of({t, d, 0}), rank_of({t, d, pp_ - 1})});
}

}  // namespace clustersim::models::build
