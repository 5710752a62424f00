// The two pictures of the cluster's network: the analytical tier's levels and the flow tier's link
// graph (see topology.hpp).
#include "topology.hpp"

#include <algorithm>
#include <cctype>
#include <limits>
#include <map>
#include <set>

#include "clustersim/plan/error.hpp"
#include "clustersim/plan/json.hpp"

namespace clustersim::engine::detail {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

bool pcie_class(const plan::LinkSpec& link) {
  std::string name = link.name;
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name.rfind("pcie", 0) == 0;
}

}  // namespace

bool has_leaves(const plan::Hardware& hw) {
  return hw.inter_node.topology != plan::FabricTopology::single_switch && hw.inter_node.nodes_per_leaf >= 1;
}

std::int32_t node_groups(const plan::Hardware& hw) {
  return has_leaves(hw) ? (hw.nodes + hw.inter_node.nodes_per_leaf - 1) / hw.inter_node.nodes_per_leaf : 1;
}

void check_cluster(const plan::Plan& plan, const plan::Hardware& hw) {
  if (hw.gpus_per_node < 1 || hw.nodes < 1)
    throw InputError("cluster", std::to_string(hw.nodes) + " nodes x " + std::to_string(hw.gpus_per_node) + " GPUs",
                     "at least one node with at least one GPU");
  if (plan.world_size > hw.world_size())
    throw InputError("cluster",
                     std::to_string(hw.nodes) + " nodes x " + std::to_string(hw.gpus_per_node) +
                         " GPUs = " + std::to_string(hw.world_size()) + " GPUs",
                     "at least " + std::to_string(plan.world_size) + " GPUs, the plan's world size");
}

Degradations parse_degradations(const plan::Hardware& hw, std::int32_t groups) {
  Degradations out;
  out.nic.assign(static_cast<std::size_t>(hw.nodes), 1.0);
  out.intra.assign(static_cast<std::size_t>(hw.nodes), 1.0);
  out.leaf.assign(static_cast<std::size_t>(groups), 1.0);
  for (std::size_t i = 0; i < hw.degradations.size(); ++i) {
    const auto& d = hw.degradations[i];
    const std::string path = "cluster.degradations[" + std::to_string(i) + "]";
    if (!(d.bandwidth_factor > 0.0 && d.bandwidth_factor <= 1.0))
      throw InputError(path + ".bandwidth_factor", plan::describe_value(d.bandwidth_factor), "a fraction in (0, 1]");
    const auto colon = d.where.find(':');
    const std::string what = colon == std::string::npos ? d.where : d.where.substr(0, colon);
    std::int64_t index = -1;
    if (colon != std::string::npos) {
      try {
        std::size_t used = 0;
        index = std::stoll(d.where.substr(colon + 1), &used);
        if (used != d.where.size() - colon - 1) index = -1;
      } catch (const std::exception&) {
        index = -1;
      }
    }
    std::vector<double>* target = nullptr;
    std::int64_t limit = 0;
    if (what == "node") target = &out.nic, limit = hw.nodes;
    if (what == "intra") target = &out.intra, limit = hw.nodes;
    if (what == "leaf") target = &out.leaf, limit = groups;
    if (target == nullptr || index < 0 || index >= limit)
      throw InputError(path + ".where", "\"" + d.where + "\"",
                       "\"node:<n>\" or \"intra:<n>\" with n < " + std::to_string(hw.nodes) +
                           ", or \"leaf:<l>\" with l < " + std::to_string(groups));
    (*target)[static_cast<std::size_t>(index)] *= d.bandwidth_factor;
  }
  return out;
}

// --- LevelView ------------------------------------------------------------------------------------

LevelView::LevelView(const plan::Plan& plan, const plan::Hardware& hw, const Degradations& degradations)
    : hw_(hw), degradations_(degradations) {
  nics_ = std::max(1, hw.inter_node.nics_per_node);
  leaves_ = has_leaves(hw);
  intra_bps_ = hw.intra_node.bytes_per_s();
  nic_bps_ = hw.inter_node.link.bytes_per_s();
  oversubscription_ = std::max(1.0, hw.inter_node.oversubscription);

  // NIC sharing: instances of each group kind that cross nodes through each (node, NIC).
  sharers_.assign(kGroupKindCount, std::vector<std::int32_t>(static_cast<std::size_t>(hw.nodes) * nics_, 0));
  for (const auto& g : plan.groups) {
    bool crosses = false;
    for (plan::Rank r : g.ranks) crosses |= hw_.node_of(r) != hw_.node_of(g.ranks.front());
    if (!crosses) continue;
    std::set<std::int64_t> touched;
    for (plan::Rank r : g.ranks) touched.insert(nic_slot(r));
    for (std::int64_t s : touched) ++sharers_[static_cast<std::size_t>(g.kind)][static_cast<std::size_t>(s)];
  }
  paths_.resize(plan.groups.size());
  levels_.resize(plan.groups.size());
  kinds_.reserve(plan.groups.size());
  for (std::size_t i = 0; i < plan.groups.size(); ++i) {
    describe(plan.groups[i], paths_[i], levels_[i]);
    kinds_.push_back(plan.groups[i].kind);
  }
}

std::int32_t LevelView::leaf_of(std::int32_t node) const {
  return leaves_ ? node / hw_.inter_node.nodes_per_leaf : 0;
}

std::int64_t LevelView::nic_slot(plan::Rank r) const {
  return static_cast<std::int64_t>(hw_.node_of(r)) * nics_ + (r % hw_.gpus_per_node) % nics_;
}

double LevelView::nic_bandwidth(plan::Rank r, GroupKind kind, bool spans_leaves) const {
  const std::int32_t node = hw_.node_of(r);
  const std::int32_t sharing =
      std::max(1, sharers_[static_cast<std::size_t>(kind)][static_cast<std::size_t>(nic_slot(r))]);
  double bw = nic_bps_ * degradations_.nic[static_cast<std::size_t>(node)] / sharing;
  if (spans_leaves) bw *= degradations_.leaf[static_cast<std::size_t>(leaf_of(node))] / oversubscription_;
  return bw;
}

PathCost LevelView::pair_path(plan::Rank a, plan::Rank b, GroupKind kind) const {
  PathCost p;
  p.ranks = 2;
  const std::int32_t na = hw_.node_of(a), nb = hw_.node_of(b);
  if (na == nb) {
    p.nodes = 1;
    p.latency_s = hw_.intra_node.latency_us * 1e-6;
    p.bandwidth_bytes_per_s = intra_bps_ * degradations_.intra[static_cast<std::size_t>(na)];
    return p;
  }
  p.nodes = 2;
  p.inter_node = true;
  p.latency_s = hw_.inter_node.link.latency_us * 1e-6;
  const bool spans_leaves = leaves_ && leaf_of(na) != leaf_of(nb);
  p.bandwidth_bytes_per_s = std::min(nic_bandwidth(a, kind, spans_leaves), nic_bandwidth(b, kind, spans_leaves));
  return p;
}

void LevelView::describe(const plan::Group& g, PathCost& p, Levels& levels) const {
  p.ranks = static_cast<std::int32_t>(g.ranks.size());
  std::map<std::int32_t, std::int32_t> per_node;
  std::map<std::int64_t, std::int32_t> per_nic;
  std::set<std::int32_t> leaves;
  for (plan::Rank r : g.ranks) {
    ++per_node[hw_.node_of(r)];
    ++per_nic[nic_slot(r)];
    leaves.insert(leaf_of(hw_.node_of(r)));
  }
  p.nodes = static_cast<std::int32_t>(per_node.size());
  p.inter_node = p.nodes > 1;
  double intra_bw = kInf, inter_bw = kInf, latency = 0.0;
  for (const auto& [node, members] : per_node) {
    if (members < 2) continue;
    intra_bw = std::min(intra_bw, intra_bps_ * degradations_.intra[static_cast<std::size_t>(node)]);
    latency = std::max(latency, hw_.intra_node.latency_us * 1e-6);
  }
  // The inter-node stage of hierarchical: a member's shard ring shares its NIC with the group's other
  // members on that NIC.
  double shard_bw = kInf;
  if (p.inter_node) {
    const bool spans_leaves = leaves.size() > 1;
    for (plan::Rank r : g.ranks) {
      const double bw = nic_bandwidth(r, g.kind, spans_leaves);
      inter_bw = std::min(inter_bw, bw);
      shard_bw = std::min(shard_bw, bw / per_nic.at(nic_slot(r)));
    }
    latency = std::max(latency, hw_.inter_node.link.latency_us * 1e-6);
  }
  double bw = std::min(intra_bw, inter_bw);
  if (bw == kInf) {  // a single member: nothing moves
    bw = intra_bps_;
    latency = 0.0;
  }
  p.latency_s = latency;
  p.bandwidth_bytes_per_s = bw;

  const std::int32_t m = per_node.begin()->second;
  bool equal = true;
  for (const auto& [node, members] : per_node) equal &= members == m;
  levels.ranks_per_node = equal ? m : 0;
  levels.intra_latency_s = hw_.intra_node.latency_us * 1e-6;
  levels.intra_bandwidth = intra_bw == kInf ? intra_bps_ : intra_bw;
  levels.inter_latency_s = hw_.inter_node.link.latency_us * 1e-6;
  levels.inter_bandwidth = shard_bw == kInf ? nic_bps_ : shard_bw;
}

CollectiveRequest LevelView::request(std::int32_t group_id, CollectiveType type, std::int64_t bytes) const {
  const PathCost& p = paths_.at(static_cast<std::size_t>(group_id));
  const Levels& l = levels_[static_cast<std::size_t>(group_id)];
  CollectiveRequest r;
  r.type = type;
  r.ranks = p.ranks;
  r.bytes = bytes;
  r.nodes = p.nodes;
  r.latency_s = p.latency_s;
  r.bandwidth_bytes_per_s = p.bandwidth_bytes_per_s;
  r.ranks_per_node = l.ranks_per_node;
  r.intra_latency_s = l.intra_latency_s;
  r.intra_bandwidth_bytes_per_s = l.intra_bandwidth;
  r.inter_latency_s = l.inter_latency_s;
  r.inter_bandwidth_bytes_per_s = l.inter_bandwidth;
  return r;
}

// --- FlowGraph ------------------------------------------------------------------------------------

FlowGraph::FlowGraph(const plan::Hardware& hw, const Degradations& degradations) : hw_(hw) {
  nics_ = std::max(1, hw.inter_node.nics_per_node);
  pcie_ = pcie_class(hw.intra_node);
  leaves_ = has_leaves(hw);
  const std::int32_t groups = node_groups(hw);
  leaves_per_group_ = hw.inter_node.topology == plan::FabricTopology::rail_fat_tree ? nics_ : 1;
  const double intra = hw.intra_node.bytes_per_s(), nic = hw.inter_node.link.bytes_per_s();
  const double oversubscription = std::max(1.0, hw.inter_node.oversubscription);

  const std::int32_t gpus = hw.world_size();
  capacity_.reserve(static_cast<std::size_t>(2 * gpus + hw.nodes * (1 + 2 * nics_) + 2 * groups * leaves_per_group_));
  for (plan::Rank r = 0; r < gpus; ++r) {
    const double c = intra * degradations.intra[static_cast<std::size_t>(hw.node_of(r))];
    capacity_.push_back(c);  // up
    capacity_.push_back(c);  // down
  }
  bridge_base_ = link_count();
  if (pcie_)
    for (std::int32_t n = 0; n < hw.nodes; ++n)
      capacity_.push_back(intra * degradations.intra[static_cast<std::size_t>(n)]);
  nic_base_ = link_count();
  for (std::int32_t n = 0; n < hw.nodes; ++n)
    for (std::int32_t i = 0; i < nics_; ++i) {
      const double c = nic * degradations.nic[static_cast<std::size_t>(n)];
      capacity_.push_back(c);  // up
      capacity_.push_back(c);  // down
    }
  leaf_base_ = link_count();
  if (leaves_)
    for (std::int32_t g = 0; g < groups; ++g) {
      const std::int32_t nodes_here =
          std::min(hw.inter_node.nodes_per_leaf, hw.nodes - g * hw.inter_node.nodes_per_leaf);
      const std::int32_t nics_here = nodes_here * (leaves_per_group_ == 1 ? nics_ : 1);
      const double c = nics_here * nic / oversubscription * degradations.leaf[static_cast<std::size_t>(g)];
      for (std::int32_t l = 0; l < leaves_per_group_; ++l) {
        capacity_.push_back(c);  // up
        capacity_.push_back(c);  // down
      }
    }
}

std::int32_t FlowGraph::leaf_of_rank(plan::Rank r) const {
  if (!leaves_) return 0;
  const std::int32_t group = hw_.node_of(r) / hw_.inter_node.nodes_per_leaf;
  return group * leaves_per_group_ + (leaves_per_group_ == 1 ? 0 : nic_of(r));
}

Route FlowGraph::route(plan::Rank src, plan::Rank dst) const {
  Route route;
  auto add = [&](std::int32_t link) { route.links[static_cast<std::size_t>(route.hops++)] = link; };
  const std::int32_t ns = hw_.node_of(src), nd = hw_.node_of(dst);
  if (ns == nd) {
    add(gpu_up(src));
    if (pcie_) add(bridge_base_ + ns);
    add(gpu_down(dst));
    return route;
  }
  const std::int32_t nic_s = nic_base_ + 2 * (ns * nics_ + nic_of(src));
  const std::int32_t nic_d = nic_base_ + 2 * (nd * nics_ + nic_of(dst));
  add(nic_s);
  const std::int32_t ls = leaf_of_rank(src), ld = leaf_of_rank(dst);
  if (leaves_ && ls != ld) {
    add(leaf_base_ + 2 * ls);
    add(leaf_base_ + 2 * ld + 1);
  }
  add(nic_d + 1);
  return route;
}

double FlowGraph::latency_s(plan::Rank src, plan::Rank dst) const {
  return hw_.node_of(src) == hw_.node_of(dst) ? hw_.intra_node.latency_us * 1e-6
                                              : hw_.inter_node.link.latency_us * 1e-6;
}

std::string FlowGraph::link_name(std::int32_t link) const {
  if (link < bridge_base_) return "gpu " + std::to_string(link / 2) + (link % 2 == 0 ? " up" : " down");
  if (link < nic_base_) return "node " + std::to_string(link - bridge_base_) + " host bridge";
  if (link < leaf_base_) {
    const std::int32_t i = (link - nic_base_) / 2;
    return "node " + std::to_string(i / nics_) + " nic " + std::to_string(i % nics_) +
           ((link - nic_base_) % 2 == 0 ? " up" : " down");
  }
  const std::int32_t l = (link - leaf_base_) / 2;
  return "leaf " + std::to_string(l) + ((link - leaf_base_) % 2 == 0 ? " up" : " down");
}

}  // namespace clustersim::engine::detail
