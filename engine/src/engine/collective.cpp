// Collective algorithms of the analytical network tier and their registry (formulas and sources in
// collective.hpp). The network model picks the group's alpha and B; these only do the arithmetic.
#include "clustersim/engine/collective.hpp"

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

// S / B, refusing a transfer over a level that has no bandwidth.
double transfer_s(double bytes, const CollectiveRequest& r) {
  if (bytes <= 0.0) return 0.0;
  if (!(r.bandwidth_bytes_per_s > 0.0))
    throw InputError("cluster", "a link with no bandwidth on the path of a " + std::string(to_string(r.type)),
                     "bandwidth_gbps > 0 for the intra-node and inter-node links the plan uses");
  return bytes / r.bandwidth_bytes_per_s;
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
  if (r.type == CollectiveType::all_reduce) return 2.0 * l * a + transfer_s(2.0 * s, r);
  return l * a + transfer_s(s, r);
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
// reduction and scan", Parallel Computing 2009 (NCCL's double binary tree); costed like NCCL's
// tuning model (NVIDIA/nccl, src/graph/tuning.cc).
class Tree final : public CollectiveAlgorithm {
 public:
  std::string_view name() const override { return "tree"; }
  CollectiveTime time(const CollectiveRequest& r) const override {
    if (trivial(r)) return {0.0, "tree"};
    if (!tree_applies(r.type)) return Ring().time(r);
    return {tree_s(r), "tree"};
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
// modelled algorithm; tree only for all-reduce across nodes); threshold in collective.hpp.
class Auto final : public CollectiveAlgorithm {
 public:
  std::string_view name() const override { return "auto"; }
  CollectiveTime time(const CollectiveRequest& r) const override {
    if (trivial(r)) return {0.0, "ring"};
    if (r.type == CollectiveType::all_to_all) return {direct_s(r), "direct"};
    const double ring = ring_s(r);
    if (r.type == CollectiveType::all_reduce && r.nodes > 1) {
      const double tree = tree_s(r);
      if (tree < ring) return {tree, "tree"};
    }
    return {ring, "ring"};
  }
};

struct Entry {
  std::string_view name;
  const CollectiveAlgorithm* algorithm;
};

const std::array<Entry, 4>& registry() {
  static const Ring ring;
  static const Tree tree;
  static const Direct direct;
  static const Auto automatic;
  static const std::array<Entry, 4> entries{
      {{"auto", &automatic}, {"ring", &ring}, {"tree", &tree}, {"direct", &direct}}};
  return entries;
}

}  // namespace

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
