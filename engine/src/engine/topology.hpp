// The cluster's network as the two network tiers see it (private to the engine), both built from
// plan::Hardware:
//  * LevelView — the analytical tier's two-level picture: a group or a pair of ranks reduced to the
//    alpha and B of the slowest level it crosses (network.hpp documents the rules), plus each level's
//    own values for the hierarchical algorithm. The flow tier uses it too, to pick algorithms
//    ("auto") and to describe groups for the symmetric rank classes.
//  * FlowGraph — the flow tier's graph of directed links with capacities (bytes/s) and the route
//    between any two GPUs:
//      - inside a node with an NVSwitch-class fabric, each GPU has an up link and a down link of the
//        intra-node bandwidth into a non-blocking switch: GPU a -> GPU b crosses up(a), down(b);
//      - with a PCIe-class intra-node link (its name starts with "pcie"), GPU-to-GPU traffic also
//        crosses the node's host bridge, one link of the same bandwidth that all of the node's
//        GPU-to-GPU flows share (the root complex): up(a), bridge(node), down(b);
//      - between nodes, each node has inter_node.nics_per_node NIC rails (rail-optimised: local GPU
//        i uses NIC i % nics), each NIC an up and a down link of the inter-node bandwidth into its
//        leaf switch. NIC traffic leaves the GPU over its PCIe switch, not its NVSwitch port, so it
//        does not load the intra-node links;
//      - leaves: single_switch is one big non-blocking switch (no leaf links); fat_tree puts
//        nodes_per_leaf consecutive nodes under one leaf shared by all rails; rail_fat_tree gives each
//        rail of each such node group its own leaf. A leaf has one up link (to the spine layer) and
//        one down link (from it) whose capacity is the leaf's downlink bandwidth (the NICs attached
//        to it x inter-node bandwidth) / oversubscription: the aggregate of its spine uplinks under
//        ideal ECMP. The spine layer itself is non-blocking. Two NICs under different leaves talk
//        through nic_up, leaf_up(src leaf), leaf_down(dst leaf), nic_down.
//    Degradations scale capacities: "node:<n>" that node's NIC links, "intra:<n>" its GPU links (and
//    host bridge), "leaf:<l>" the up and down links of node group l's leaf (of every rail's leaf of
//    that group in rail_fat_tree).
//    A route's latency is the intra-node link's latency_us inside a node, the inter-node link's
//    between nodes (the alpha of the analytical tier; switches add none).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "clustersim/engine/collective.hpp"
#include "clustersim/engine/network.hpp"
#include "clustersim/plan/hardware.hpp"
#include "clustersim/plan/plan.hpp"

namespace clustersim::engine::detail {

// Capacity factors of hardware.degradations; InputError for a malformed entry.
struct Degradations {
  std::vector<double> nic, intra, leaf;  // per node, per node, per node group
};
Degradations parse_degradations(const plan::Hardware& hw, std::int32_t node_groups);

// Whether leaf switches exist (not single_switch, nodes_per_leaf >= 1), and how many node groups
// (leaves per rail) there are.
bool has_leaves(const plan::Hardware& hw);
std::int32_t node_groups(const plan::Hardware& hw);

// Checks that the plan fits the cluster (InputError otherwise).
void check_cluster(const plan::Plan& plan, const plan::Hardware& hw);

class LevelView {
 public:
  LevelView(const plan::Plan& plan, const plan::Hardware& hw, const Degradations& degradations);

  const PathCost& group_path(std::int32_t group_id) const { return paths_.at(static_cast<std::size_t>(group_id)); }
  PathCost pair_path(plan::Rank a, plan::Rank b, GroupKind kind) const;
  // The request of a collective on the group, type and bytes filled in.
  CollectiveRequest request(std::int32_t group_id, CollectiveType type, std::int64_t bytes) const;
  GroupKind kind_of(std::int32_t group_id) const { return kinds_.at(static_cast<std::size_t>(group_id)); }

 private:
  struct Levels {  // the hierarchical algorithm's view of a group
    std::int32_t ranks_per_node = 0;
    double intra_latency_s = 0.0, intra_bandwidth = 0.0, inter_latency_s = 0.0, inter_bandwidth = 0.0;
  };
  std::int32_t leaf_of(std::int32_t node) const;
  std::int64_t nic_slot(plan::Rank r) const;
  double nic_bandwidth(plan::Rank r, GroupKind kind, bool spans_leaves) const;
  void describe(const plan::Group& g, PathCost& path, Levels& levels) const;

  plan::Hardware hw_;
  Degradations degradations_;
  std::int32_t nics_ = 1;
  bool leaves_ = false;
  double intra_bps_ = 0.0, nic_bps_ = 0.0, oversubscription_ = 1.0;
  std::vector<std::vector<std::int32_t>> sharers_;  // [kind][node * nics + nic]
  std::vector<PathCost> paths_;
  std::vector<Levels> levels_;
  std::vector<GroupKind> kinds_;
};

// At most four links on any route (NIC up, leaf up, leaf down, NIC down).
struct Route {
  std::array<std::int32_t, 4> links{};
  std::int32_t hops = 0;
};

class FlowGraph {
 public:
  FlowGraph(const plan::Hardware& hw, const Degradations& degradations);

  std::int32_t link_count() const { return static_cast<std::int32_t>(capacity_.size()); }
  double capacity(std::int32_t link) const { return capacity_[static_cast<std::size_t>(link)]; }
  // The links from GPU `src` to GPU `dst` (src != dst), and the latency of that path.
  Route route(plan::Rank src, plan::Rank dst) const;
  double latency_s(plan::Rank src, plan::Rank dst) const;
  // "gpu 3 up", "node 2 nic 1 down", "leaf 0 up", ... for messages.
  std::string link_name(std::int32_t link) const;
  // The leaf a rank's NIC attaches to (0 without leaves).
  std::int32_t leaf_of_rank(plan::Rank r) const;

 private:
  std::int32_t gpu_up(plan::Rank r) const { return 2 * r; }
  std::int32_t gpu_down(plan::Rank r) const { return 2 * r + 1; }
  std::int32_t nic_of(plan::Rank r) const { return (r % hw_.gpus_per_node) % nics_; }

  plan::Hardware hw_;
  std::int32_t nics_ = 1;
  bool pcie_ = false, leaves_ = false;
  std::int32_t leaves_per_group_ = 1;  // rails per node group in rail_fat_tree, else 1
  std::int32_t bridge_base_ = 0, nic_base_ = 0, leaf_base_ = 0;
  std::vector<double> capacity_;
};

}  // namespace clustersim::engine::detail
