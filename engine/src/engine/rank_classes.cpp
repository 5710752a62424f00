// Colour refinement of the ranks into classes that behave identically (see rank_classes.hpp).
#include "rank_classes.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <map>
#include <utility>

#include "clustersim/plan/error.hpp"

namespace clustersim::engine::detail {

using plan::Rank;

RankClasses expanded_classes(std::int32_t world_size) {
  RankClasses c;
  c.simulated.resize(static_cast<std::size_t>(world_size));
  c.slot_of_rank.resize(static_cast<std::size_t>(world_size));
  c.class_size.assign(static_cast<std::size_t>(world_size), 1);
  for (std::int32_t r = 0; r < world_size; ++r)
    c.simulated[static_cast<std::size_t>(r)] = r, c.slot_of_rank[static_cast<std::size_t>(r)] = r;
  return c;
}

Rank p2p_peer(const plan::Plan& plan, const plan::RankGroups& groups, Rank rank, GroupKind kind, std::int32_t offset) {
  const std::int32_t g = groups.group_of(rank, kind);
  if (g == plan::kNone) return plan::kNone;
  const auto& members = plan.groups[static_cast<std::size_t>(g)].ranks;
  const auto n = static_cast<std::int64_t>(members.size());
  const std::int64_t i = ((groups.index_in_group(rank, kind) + static_cast<std::int64_t>(offset)) % n + n) % n;
  return members[static_cast<std::size_t>(i)];
}

namespace {

// What a program communicates over: collective group kinds, and p2p (kind, offset) pairs.
struct CommUse {
  std::vector<GroupKind> collective_kinds;
  std::vector<std::pair<GroupKind, std::int32_t>> p2p;
};

CommUse comm_use(const plan::Program& program) {
  CommUse u;
  std::array<bool, kGroupKindCount> collective{};
  for (const auto& op : program.ops) {
    if (op.kind == OpKind::collective)
      collective[static_cast<std::size_t>(std::get<plan::CollectiveParams>(op.params).group)] = true;
    if (op.kind == OpKind::send || op.kind == OpKind::recv) {
      const auto& p = std::get<plan::P2PParams>(op.params);
      const std::pair<GroupKind, std::int32_t> use{p.group, p.peer_offset};
      if (std::find(u.p2p.begin(), u.p2p.end(), use) == u.p2p.end()) u.p2p.push_back(use);
    }
  }
  for (std::size_t k = 0; k < collective.size(); ++k)
    if (collective[k]) u.collective_kinds.push_back(static_cast<GroupKind>(k));
  std::sort(u.p2p.begin(), u.p2p.end());
  return u;
}

// Interns keys into dense ids.
class Interner {
 public:
  std::int64_t id(const std::vector<std::int64_t>& key) {
    const auto [it, inserted] = ids_.emplace(key, static_cast<std::int64_t>(ids_.size()));
    return it->second;
  }
  std::size_t size() const { return ids_.size(); }

 private:
  std::map<std::vector<std::int64_t>, std::int64_t> ids_;
};

void append_path(std::vector<std::int64_t>& key, const PathCost& p) {
  key.push_back(std::bit_cast<std::int64_t>(p.latency_s));
  key.push_back(std::bit_cast<std::int64_t>(p.bandwidth_bytes_per_s));
  key.push_back(p.ranks);
  key.push_back(p.nodes);
  key.push_back(p.inter_node ? 1 : 0);
  key.push_back(p.leaves);
}

}  // namespace

RankClasses symmetric_classes(const plan::Plan& plan, const plan::RankGroups& groups, const NetworkModel& network,
                              const std::vector<double>& straggler) {
  const auto world = static_cast<std::size_t>(plan.world_size);
  std::vector<CommUse> use;
  use.reserve(plan.programs.size());
  for (const auto& p : plan.programs) use.push_back(comm_use(p));

  // Peers and groups each rank's program uses, resolved once.
  std::vector<std::vector<std::int32_t>> used_groups(world);
  std::vector<std::vector<Rank>> peers(world);
  std::vector<std::int64_t> colour(world);
  {
    Interner initial;
    for (std::size_t r = 0; r < world; ++r) {
      const auto rank = static_cast<Rank>(r);
      const CommUse& u = use[static_cast<std::size_t>(plan.program_of_rank[r])];
      std::vector<std::int64_t> key{plan.program_of_rank[r], std::bit_cast<std::int64_t>(straggler[r])};
      for (GroupKind k : u.collective_kinds) {
        const std::int32_t g = groups.group_of(rank, k);
        used_groups[r].push_back(g);
        key.push_back(static_cast<std::int64_t>(k));
        if (g != plan::kNone) append_path(key, network.group_path(g));
      }
      for (const auto& [k, offset] : u.p2p) {
        const Rank peer = p2p_peer(plan, groups, rank, k, offset);
        peers[r].push_back(peer);
        key.push_back(static_cast<std::int64_t>(k));
        key.push_back(offset);
        if (peer != plan::kNone) append_path(key, network.pair_path(rank, peer, k));
      }
      colour[r] = initial.id(key);
    }
  }

  std::size_t classes = 0;
  for (std::size_t round = 0; round <= world; ++round) {
    std::size_t count = 0;
    {
      std::vector<std::int64_t> sorted = colour;
      std::sort(sorted.begin(), sorted.end());
      count = static_cast<std::size_t>(std::unique(sorted.begin(), sorted.end()) - sorted.begin());
    }
    if (count == classes) break;
    classes = count;
    // Colour of each group: its kind and the multiset of its members' colours.
    Interner group_ids;
    std::vector<std::int64_t> group_colour(plan.groups.size());
    for (std::size_t g = 0; g < plan.groups.size(); ++g) {
      std::vector<std::int64_t> key{static_cast<std::int64_t>(plan.groups[g].kind)};
      for (Rank m : plan.groups[g].ranks) key.push_back(colour[static_cast<std::size_t>(m)]);
      std::sort(key.begin() + 1, key.end());
      group_colour[g] = group_ids.id(key);
    }
    Interner rank_ids;
    std::vector<std::int64_t> next(world);
    for (std::size_t r = 0; r < world; ++r) {
      std::vector<std::int64_t> key{colour[r]};
      for (std::int32_t g : used_groups[r])
        key.push_back(g == plan::kNone ? -1 : group_colour[static_cast<std::size_t>(g)]);
      for (Rank p : peers[r]) key.push_back(p == plan::kNone ? -1 : colour[static_cast<std::size_t>(p)]);
      next[r] = rank_ids.id(key);
    }
    colour = std::move(next);
  }

  // Representatives: the lowest rank of each class, slots in rank order.
  std::map<std::int64_t, Rank> representative;
  for (std::size_t r = 0; r < world; ++r) representative.emplace(colour[r], static_cast<Rank>(r));
  RankClasses out;
  std::map<Rank, std::int32_t> slot_of_rep;
  for (std::size_t r = 0; r < world; ++r) {
    if (representative.at(colour[r]) != static_cast<Rank>(r)) continue;
    slot_of_rep[static_cast<Rank>(r)] = static_cast<std::int32_t>(out.simulated.size());
    out.simulated.push_back(static_cast<Rank>(r));
  }
  out.class_size.assign(out.simulated.size(), 0);
  out.slot_of_rank.resize(world);
  for (std::size_t r = 0; r < world; ++r) {
    const std::int32_t slot = slot_of_rep.at(representative.at(colour[r]));
    out.slot_of_rank[r] = slot;
    ++out.class_size[static_cast<std::size_t>(slot)];
  }
  return out;
}

}  // namespace clustersim::engine::detail
