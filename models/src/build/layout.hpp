// Rank layout: where each (tp, dp, pp) coordinate lives in the world, and the communicator groups
// that follow. The placement string orders dimensions fastest-varying first: "tp-dp-pp" (the
// default, Megatron's order) keeps a tensor-parallel group inside a node.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "clustersim/plan/plan.hpp"

namespace clustersim::models::build {

struct RankCoord {
  std::int32_t tp = 0, dp = 0, pp = 0;
};

class RankLayout {
 public:
  RankLayout(std::int32_t tp, std::int32_t dp, std::int32_t pp, const std::string& placement);
  std::int32_t world() const { return tp_ * dp_ * pp_; }
  std::int32_t rank_of(RankCoord c) const;
  RankCoord coord_of(std::int32_t rank) const;
  std::int32_t tp() const { return tp_; }
  std::int32_t dp() const { return dp_; }
  std::int32_t pp() const { return pp_; }

  // Adds world, tp, dp, pp groups (and emb: first and last stage, when `embedding_group`) to the plan.
  void add_groups(plan::Plan& plan, bool embedding_group) const;

 private:
  std::int32_t tp_, dp_, pp_;
  std::array<std::int32_t, 3> stride_{};  // for tp, dp, pp
};

}  // namespace clustersim::models::build
