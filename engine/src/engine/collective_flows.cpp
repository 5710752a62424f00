// The flow decompositions of the collective algorithms (see collective_flows.hpp; costs and sources
// in collective.hpp).
#include "collective_flows.hpp"

#include <map>

#include "clustersim/engine/collective.hpp"

namespace clustersim::engine::detail {

namespace {

using Phases = std::vector<PhaseShape>;

int ceil_log2(std::int32_t n) {
  int l = 0;
  while ((std::int64_t{1} << l) < n) ++l;
  return l;
}

// Every ordered pair (i, j), i != j.
PhaseShape all_pairs(std::int32_t n, double fraction) {
  PhaseShape p{fraction, 1, {}};
  p.flows.reserve(static_cast<std::size_t>(n) * static_cast<std::size_t>(n - 1));
  for (std::int32_t i = 0; i < n; ++i)
    for (std::int32_t j = 0; j < n; ++j)
      if (i != j) p.flows.push_back({i, j});
  return p;
}

Phases direct(CollectiveType type, std::int32_t n) {
  const double share = 1.0 / n;
  switch (type) {
    case CollectiveType::all_to_all:
    case CollectiveType::all_gather:
    case CollectiveType::reduce_scatter:
      return {all_pairs(n, share)};
    case CollectiveType::all_reduce:
      return {all_pairs(n, share), all_pairs(n, share)};
    case CollectiveType::broadcast:
    case CollectiveType::reduce: {
      PhaseShape p{1.0, 1, {}};
      for (std::int32_t i = 1; i < n; ++i)
        p.flows.push_back(type == CollectiveType::broadcast ? FlowEdge{0, i} : FlowEdge{i, 0});
      return {p};
    }
  }
  return {};
}

// Member i sends to member i + 1 (mod n) for `hops` steps moving `fraction` of S in total.
PhaseShape ring_phase(const std::vector<std::int32_t>& members, double fraction, std::int32_t hops) {
  PhaseShape p{fraction, hops, {}};
  const auto n = members.size();
  for (std::size_t i = 0; i < n; ++i) p.flows.push_back({members[i], members[(i + 1) % n]});
  return p;
}

std::vector<std::int32_t> iota(std::int32_t n) {
  std::vector<std::int32_t> v(static_cast<std::size_t>(n));
  for (std::int32_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i;
  return v;
}

Phases ring(CollectiveType type, std::int32_t n) {
  const double f = (n - 1.0) / n;
  switch (type) {
    case CollectiveType::all_reduce:
      return {ring_phase(iota(n), 2.0 * f, 2 * (n - 1))};
    case CollectiveType::reduce_scatter:
    case CollectiveType::all_gather:
      return {ring_phase(iota(n), f, n - 1)};
    case CollectiveType::broadcast:
    case CollectiveType::reduce: {
      // A pipelined chain from the root (broadcast) or towards it (reduce).
      PhaseShape p{1.0, n - 1, {}};
      for (std::int32_t i = 0; i + 1 < n; ++i)
        p.flows.push_back(type == CollectiveType::broadcast ? FlowEdge{i, i + 1} : FlowEdge{i + 1, i});
      return {p};
    }
    case CollectiveType::all_to_all:
      return direct(type, n);
  }
  return {};
}

Phases tree(CollectiveType type, std::int32_t n) {
  if (type != CollectiveType::all_reduce && type != CollectiveType::broadcast && type != CollectiveType::reduce)
    return ring(type, n);
  const auto parent = double_binary_tree(n);
  const std::int32_t hops = ceil_log2(n);
  PhaseShape up{0.5, hops, {}}, down{0.5, hops, {}};  // each tree carries half of the buffer
  for (const auto& t : parent)
    for (std::int32_t i = 0; i < n; ++i)
      if (const std::int32_t p = t[static_cast<std::size_t>(i)]; p >= 0) {
        up.flows.push_back({i, p});
        down.flows.push_back({p, i});
      }
  if (type == CollectiveType::reduce) return {up};
  if (type == CollectiveType::broadcast) return {down};
  return {up, down};
}

Phases halving_doubling(CollectiveType type, std::int32_t n) {
  if (type == CollectiveType::all_to_all) return direct(type, n);
  std::int32_t p = 1;
  int l = 0;
  while (p * 2 <= n) p *= 2, ++l;
  const std::int32_t extra = n - p;  // member p + i pairs with member i
  auto fold = [&](double fraction, bool inward) {
    PhaseShape s{fraction, 1, {}};
    for (std::int32_t i = 0; i < extra; ++i) s.flows.push_back(inward ? FlowEdge{p + i, i} : FlowEdge{i, p + i});
    return s;
  };
  // Step k (1..l) exchanges with the partner at distance p / 2^k, 1/2^k of S each way.
  auto exchange = [&](int k) {
    PhaseShape s{1.0 / static_cast<double>(std::int64_t{1} << k), 1, {}};
    const std::int32_t distance = p >> k;
    for (std::int32_t i = 0; i < p; ++i) s.flows.push_back({i, i ^ distance});
    return s;
  };
  auto halving = [&](Phases& out) {
    for (int k = 1; k <= l; ++k) out.push_back(exchange(k));
  };
  auto doubling = [&](Phases& out) {
    for (int k = l; k >= 1; --k) out.push_back(exchange(k));
  };
  // Binomial scatter from member 0: at step k the holders (multiples of p / 2^(k-1)) send half of
  // what they hold, 1/2^k of S, to the member p / 2^k above them; gather is the reverse.
  auto binomial = [&](int k, bool scatter) {
    PhaseShape s{1.0 / static_cast<double>(std::int64_t{1} << k), 1, {}};
    const std::int32_t distance = p >> k;
    for (std::int32_t i = 0; i < p; i += 2 * distance)
      s.flows.push_back(scatter ? FlowEdge{i, i + distance} : FlowEdge{i + distance, i});
    return s;
  };
  Phases out;
  switch (type) {
    case CollectiveType::all_reduce:
      if (extra > 0) out.push_back(fold(1.0, true));
      halving(out);
      doubling(out);
      if (extra > 0) out.push_back(fold(1.0, false));
      break;
    case CollectiveType::reduce_scatter:
      if (extra > 0) out.push_back(fold(1.0, true));
      halving(out);
      if (extra > 0) out.push_back(fold(1.0 / n, false));
      break;
    case CollectiveType::all_gather:
      if (extra > 0) out.push_back(fold(1.0 / n, true));
      doubling(out);
      if (extra > 0) out.push_back(fold(1.0, false));
      break;
    case CollectiveType::broadcast:
      for (int k = 1; k <= l; ++k) out.push_back(binomial(k, true));
      doubling(out);
      if (extra > 0) out.push_back(fold(1.0, false));
      break;
    case CollectiveType::reduce:
      if (extra > 0) out.push_back(fold(1.0, true));
      halving(out);
      for (int k = l; k >= 1; --k) out.push_back(binomial(k, false));
      break;
    case CollectiveType::all_to_all:
      break;
  }
  return out;
}

Phases hierarchical(CollectiveType type, const std::vector<std::int32_t>& node_of_member) {
  const auto n = static_cast<std::int32_t>(node_of_member.size());
  if (type != CollectiveType::all_reduce && type != CollectiveType::reduce_scatter &&
      type != CollectiveType::all_gather)
    return ring(type, n);
  // Members per node, nodes in order of first appearance.
  std::map<std::int32_t, std::size_t> index_of_node;
  std::vector<std::vector<std::int32_t>> local;
  for (std::int32_t i = 0; i < n; ++i) {
    const auto [it, inserted] = index_of_node.emplace(node_of_member[static_cast<std::size_t>(i)], local.size());
    if (inserted) local.emplace_back();
    local[it->second].push_back(i);
  }
  const auto nodes = static_cast<std::int32_t>(local.size());
  const auto m = static_cast<std::int32_t>(local.front().size());
  for (const auto& l : local)
    if (static_cast<std::int32_t>(l.size()) != m) return ring(type, n);
  if (nodes < 2 || m < 2) return ring(type, n);

  auto intra = [&](double fraction) {
    PhaseShape p{fraction, m - 1, {}};
    for (const auto& l : local) {
      const PhaseShape r = ring_phase(l, fraction, m - 1);
      p.flows.insert(p.flows.end(), r.flows.begin(), r.flows.end());
    }
    return p;
  };
  auto inter = [&](double fraction, std::int32_t hops) {
    PhaseShape p{fraction, hops, {}};
    for (std::int32_t j = 0; j < m; ++j)
      for (std::int32_t k = 0; k < nodes; ++k)
        p.flows.push_back({local[static_cast<std::size_t>(k)][static_cast<std::size_t>(j)],
                           local[static_cast<std::size_t>((k + 1) % nodes)][static_cast<std::size_t>(j)]});
    return p;
  };
  const double fi = (m - 1.0) / m, fe = (nodes - 1.0) / nodes / m;
  switch (type) {
    case CollectiveType::all_reduce:
      return {intra(fi), inter(2.0 * fe, 2 * (nodes - 1)), intra(fi)};
    case CollectiveType::reduce_scatter:
      return {intra(fi), inter(fe, nodes - 1)};
    case CollectiveType::all_gather:
      return {inter(fe, nodes - 1), intra(fi)};
    default:
      return {};
  }
}

}  // namespace

std::vector<PhaseShape> decompose_collective(std::string_view algorithm, CollectiveType type,
                                             const std::vector<std::int32_t>& node_of_member) {
  const auto n = static_cast<std::int32_t>(node_of_member.size());
  if (n < 2) return {};
  if (algorithm == "tree") return tree(type, n);
  if (algorithm == "halving-doubling") return halving_doubling(type, n);
  if (algorithm == "hierarchical") return hierarchical(type, node_of_member);
  if (algorithm == "direct") return direct(type, n);
  return ring(type, n);
}

}  // namespace clustersim::engine::detail
