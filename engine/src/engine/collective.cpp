// Collective algorithms' alpha-beta costs and their registry (formulas and sources in
// collective.hpp). The network model picks the group's alpha and B; these only do the arithmetic.
// Each formula is the uncontended time of the flow decomposition in collective_flows.cpp, so the two
// network tiers agree wherever the flow tier sees no contention.
#include "clustersim/engine/collective.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "clustersim/plan/error.hpp"

namespace clustersim::engine {

namespace {

int ceil_log2(std::int32_t n) {
  int l = 0;
  while ((std::int64_t{1} << l) < n) ++l;
  return l;
}

// The largest power of two <= n, and its log2.
std::pair<std::int32_t, int> power_of_two_below(std::int32_t n) {
  std::int32_t p = 1;
  int l = 0;
  while (p * 2 <= n) p *= 2, ++l;
  return {p, l};
}

// S / B, refusing a transfer over a level that has no bandwidth.
double transfer_s(double bytes, double bandwidth, CollectiveType type) {
  if (bytes <= 0.0) return 0.0;
  if (!(bandwidth > 0.0))
    throw InputError("cluster", "a link with no bandwidth on the path of a " + std::string(to_string(type)),
                     "bandwidth_gbps > 0 for the intra-node and inter-node links the plan uses");
  return bytes / bandwidth;
}
double transfer_s(double bytes, const CollectiveRequest& r) {
  return transfer_s(bytes, r.bandwidth_bytes_per_s, r.type);
}

bool trivial(const CollectiveRequest& r) {
  return r.ranks <= 1 || r.bytes <= 0;
}

double direct_s(const CollectiveRequest& r) {
  const double n = r.ranks, s = static_cast<double>(r.bytes), a = r.latency_s;
  switch (r.type) {
    case CollectiveType::all_to_all:
    case CollectiveType::all_gather:
    case CollectiveType::reduce_scatter:
      return a + transfer_s((n - 1.0) / n * s, r);
    case CollectiveType::all_reduce:
      return 2.0 * a + transfer_s(2.0 * (n - 1.0) / n * s, r);
    case CollectiveType::broadcast:
    case CollectiveType::reduce:
      return a + transfer_s((n - 1.0) * s, r);
  }
  return 0.0;
}

double ring_s(const CollectiveRequest& r) {
  const double n = r.ranks, s = static_cast<double>(r.bytes), a = r.latency_s;
  switch (r.type) {
    case CollectiveType::all_reduce:
      return 2.0 * (n - 1.0) * a + transfer_s(2.0 * (n - 1.0) / n * s, r);
    case CollectiveType::reduce_scatter:
    case CollectiveType::all_gather:
      return (n - 1.0) * a + transfer_s((n - 1.0) / n * s, r);
    case CollectiveType::broadcast:
    case CollectiveType::reduce:
      return (n - 1.0) * a + transfer_s(s, r);
    case CollectiveType::all_to_all:
      return direct_s(r);
  }
  return 0.0;
}

// Whether tree implements this type (NCCL: all-reduce; a binary tree also serves broadcast/reduce).
bool tree_applies(CollectiveType t) {
  return t == CollectiveType::all_reduce || t == CollectiveType::broadcast || t == CollectiveType::reduce;
}

double tree_s(const CollectiveRequest& r) {
  const double l = ceil_log2(r.ranks), s = static_cast<double>(r.bytes), a = r.latency_s;
  const double pass_bytes = 0.5 * tree_link_load(r.ranks) * s;
  if (r.type == CollectiveType::all_reduce) return 2.0 * l * a + transfer_s(2.0 * pass_bytes, r);
  return l * a + transfer_s(pass_bytes, r);
}

double halving_doubling_s(const CollectiveRequest& r) {
  const auto [p, l] = power_of_two_below(r.ranks);
  const bool extra = p < r.ranks;
  const double s = static_cast<double>(r.bytes), a = r.latency_s, n = r.ranks;
  const double halving = (p - 1.0) / p * s;  // bytes one rank sends over the l steps of one sweep
  switch (r.type) {
    case CollectiveType::all_reduce:
      return 2.0 * l * a + transfer_s(2.0 * halving, r) + (extra ? 2.0 * a + transfer_s(2.0 * s, r) : 0.0);
    case CollectiveType::reduce_scatter:
    case CollectiveType::all_gather:
      return l * a + transfer_s(halving, r) + (extra ? 2.0 * a + transfer_s((1.0 + 1.0 / n) * s, r) : 0.0);
    case CollectiveType::broadcast:
    case CollectiveType::reduce:
      return 2.0 * l * a + transfer_s(2.0 * halving, r) + (extra ? a + transfer_s(s, r) : 0.0);
    case CollectiveType::all_to_all:
      return direct_s(r);
  }
  return 0.0;
}

bool hierarchical_applies(const CollectiveRequest& r) {
  return r.ranks_per_node >= 2 && r.nodes >= 2 && r.ranks_per_node * r.nodes == r.ranks &&
         (r.type == CollectiveType::all_reduce || r.type == CollectiveType::reduce_scatter ||
          r.type == CollectiveType::all_gather);
}

double hierarchical_s(const CollectiveRequest& r) {
  const double m = r.ranks_per_node, k = r.nodes, s = static_cast<double>(r.bytes);
  const double intra =
      (m - 1.0) * r.intra_latency_s + transfer_s((m - 1.0) / m * s, r.intra_bandwidth_bytes_per_s, r.type);
  const double inter =
      (k - 1.0) * r.inter_latency_s + transfer_s((k - 1.0) / k * s / m, r.inter_bandwidth_bytes_per_s, r.type);
  return r.type == CollectiveType::all_reduce ? 2.0 * (intra + inter) : intra + inter;
}

// collective/ring — Patarasuk & Yuan, "Bandwidth optimal all-reduce algorithms for clusters of
// workstations", JPDC 2009; Thakur, Rabenseifner & Gropp, "Optimization of collective communication
// operations in MPICH", IJHPCA 2005.
class Ring final : public CollectiveAlgorithm {
 public:
  std::string_view name() const override { return "ring"; }
  CollectiveTime time(const CollectiveRequest& r) const override {
    if (trivial(r)) return {0.0, "ring"};
    return {ring_s(r), r.type == CollectiveType::all_to_all ? "direct" : "ring"};
  }
};

// collective/tree — Sanders, Speck & Traeff, "Two-tree algorithms for full bandwidth broadcast,
// reduction and scan", Parallel Computing 2009 (NCCL's double binary tree, NVIDIA/nccl
// src/graph/trees.cc); latency as NCCL's tuning model (src/graph/tuning.cc).
class Tree final : public CollectiveAlgorithm {
 public:
  std::string_view name() const override { return "tree"; }
  CollectiveTime time(const CollectiveRequest& r) const override {
    if (trivial(r)) return {0.0, "tree"};
    if (!tree_applies(r.type)) return Ring().time(r);
    return {tree_s(r), "tree"};
  }
};

// collective/halving-doubling — Thakur, Rabenseifner & Gropp, "Optimization of collective
// communication operations in MPICH", IJHPCA 2005: Rabenseifner's recursive-halving reduce-scatter
// and recursive-doubling all-gather (van de Geijn's scatter + all-gather for broadcast).
class HalvingDoubling final : public CollectiveAlgorithm {
 public:
  std::string_view name() const override { return "halving-doubling"; }
  CollectiveTime time(const CollectiveRequest& r) const override {
    if (trivial(r)) return {0.0, "halving-doubling"};
    if (r.type == CollectiveType::all_to_all) return {direct_s(r), "direct"};
    return {halving_doubling_s(r), "halving-doubling"};
  }
};

// collective/hierarchical — intra-node reduce-scatter, inter-node all-reduce of the shards,
// intra-node all-gather: NCCL's multi-node ring/tree structure (NVIDIA/nccl) and Horovod's
// hierarchical all-reduce (Sergeev & Del Balso, "Horovod: fast and easy distributed deep learning in
// TensorFlow", arXiv:1802.05799, 2018).
class Hierarchical final : public CollectiveAlgorithm {
 public:
  std::string_view name() const override { return "hierarchical"; }
  CollectiveTime time(const CollectiveRequest& r) const override {
    if (trivial(r)) return {0.0, "hierarchical"};
    if (!hierarchical_applies(r)) return Ring().time(r);
    return {hierarchical_s(r), "hierarchical"};
  }
};

// collective/direct — every message in flight at once (NCCL grouped send/recv); bandwidth terms of
// the pairwise exchange in Thakur, Rabenseifner & Gropp, IJHPCA 2005.
class Direct final : public CollectiveAlgorithm {
 public:
  std::string_view name() const override { return "direct"; }
  CollectiveTime time(const CollectiveRequest& r) const override {
    if (trivial(r)) return {0.0, "direct"};
    return {direct_s(r), "direct"};
  }
};

// collective/auto — NCCL's selection (NVIDIA/nccl, src/graph/tuning.cc and enqueue.cc: the fastest
// modelled algorithm among those NCCL implements for the operation); rules in collective.hpp.
class Auto final : public CollectiveAlgorithm {
 public:
  std::string_view name() const override { return "auto"; }
  CollectiveTime time(const CollectiveRequest& r) const override {
    if (trivial(r)) return {0.0, "ring"};
    if (r.type == CollectiveType::all_to_all) return {direct_s(r), "direct"};
    CollectiveTime best{ring_s(r), "ring"};
    if (r.nodes <= 1) return best;
    if (r.type == CollectiveType::all_reduce) {
      const double tree = tree_s(r);
      if (tree < best.seconds) best = {tree, "tree"};
    }
    if (hierarchical_applies(r)) {
      const double hierarchical = hierarchical_s(r);
      if (hierarchical < best.seconds) best = {hierarchical, "hierarchical"};
    }
    return best;
  }
};

struct Entry {
  std::string_view name;
  const CollectiveAlgorithm* algorithm;
};

const std::array<Entry, 6>& registry() {
  static const Ring ring;
  static const Tree tree;
  static const HalvingDoubling halving_doubling;
  static const Hierarchical hierarchical;
  static const Direct direct;
  static const Auto automatic;
  static const std::array<Entry, 6> entries{{{"auto", &automatic},
                                             {"ring", &ring},
                                             {"tree", &tree},
                                             {"halving-doubling", &halving_doubling},
                                             {"hierarchical", &hierarchical},
                                             {"direct", &direct}}};
  return entries;
}

// NCCL src/graph/trees.cc, ncclGetBtree: rank 0 is the root with one child; another rank's parent
// is found from its lowest set bit b: (rank ^ b) | (b << 1), or rank ^ b when that is out of range.
std::int32_t btree_parent(std::int32_t n, std::int32_t rank) {
  if (rank == 0) return -1;
  std::int32_t bit = 1;
  while ((bit & rank) == 0) bit <<= 1;
  std::int32_t up = (rank ^ bit) | (bit << 1);
  if (up >= n) up = rank ^ bit;
  return up;
}

}  // namespace

std::array<std::vector<std::int32_t>, 2> double_binary_tree(std::int32_t n) {
  std::array<std::vector<std::int32_t>, 2> parent;
  for (auto& p : parent) p.assign(static_cast<std::size_t>(std::max(n, 0)), -1);
  for (std::int32_t i = 0; i < n; ++i) {
    parent[0][static_cast<std::size_t>(i)] = btree_parent(n, i);
    // ncclGetDtree: the second tree mirrors the first for even n and shifts it by one for odd n.
    if (n % 2 == 0) {
      const std::int32_t u = btree_parent(n, n - 1 - i);
      parent[1][static_cast<std::size_t>(i)] = u < 0 ? -1 : n - 1 - u;
    } else {
      const std::int32_t u = btree_parent(n, (i - 1 + n) % n);
      parent[1][static_cast<std::size_t>(i)] = u < 0 ? -1 : (u + 1) % n;
    }
  }
  return parent;
}

std::int32_t tree_link_load(std::int32_t n) {
  if (n < 2) return 0;
  const auto parent = double_binary_tree(n);
  std::vector<std::int32_t> in(static_cast<std::size_t>(n), 0), out(static_cast<std::size_t>(n), 0);
  for (const auto& tree : parent)
    for (std::int32_t i = 0; i < n; ++i)
      if (const std::int32_t p = tree[static_cast<std::size_t>(i)]; p >= 0)
        ++out[static_cast<std::size_t>(i)], ++in[static_cast<std::size_t>(p)];
  std::int32_t k = 0;
  for (std::size_t i = 0; i < in.size(); ++i) k = std::max({k, in[i], out[i]});
  return k;
}

const CollectiveAlgorithm& collective_algorithm(std::string_view name) {
  for (const auto& e : registry())
    if (e.name == name) return *e.algorithm;
  std::string allowed = "one of ";
  const auto names = collective_algorithm_names();
  for (std::size_t i = 0; i < names.size(); ++i) allowed += (i ? ", \"" : "\"") + names[i] + "\"";
  throw InputError("simulation.collective_algorithm", "\"" + std::string(name) + "\"", allowed);
}

std::vector<std::string> collective_algorithm_names() {
  std::vector<std::string> out;
  for (const auto& e : registry()) out.emplace_back(e.name);
  return out;
}

}  // namespace clustersim::engine
