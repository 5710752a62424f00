// The analytical network tier (network.hpp): a two-level topology (NVSwitch inside nodes, rail NICs
// between them) that reduces every group and every pair of ranks to the alpha and B of the slowest
// level it crosses, and times collectives with a registered CollectiveAlgorithm (or a calibration
// profile's measurements). Transfers never interact at run time: contention between concurrent
// instances of a group kind is folded into B up front (NIC sharing). The flow tier will replace this
// behind the same NetworkModel interface.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "calibration_tables.hpp"
#include "clustersim/engine/collective.hpp"
#include "clustersim/engine/network.hpp"
#include "clustersim/plan/error.hpp"
#include "clustersim/plan/json.hpp"

namespace clustersim::engine {

std::string_view network_tier_name(NetworkTier tier) {
  return tier == NetworkTier::analytical ? "analytical" : "flow";
}

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr std::array<std::string_view, 4> kAlgorithmLabels = {"ring", "tree", "direct", "measured"};

std::size_t label_index(std::string_view algorithm) {
  for (std::size_t i = 0; i < kAlgorithmLabels.size(); ++i)
    if (kAlgorithmLabels[i] == algorithm) return i;
  return 0;
}

class AnalyticalNetwork final : public NetworkModel {
 public:
  AnalyticalNetwork(const plan::Plan& plan, const plan::Hardware& hw, const NetworkConfig& config)
      : hw_(hw), algorithm_(collective_algorithm(config.collective_algorithm)) {
    if (hw.gpus_per_node < 1 || hw.nodes < 1)
      throw InputError("cluster", std::to_string(hw.nodes) + " nodes x " + std::to_string(hw.gpus_per_node) + " GPUs",
                       "at least one node with at least one GPU");
    if (plan.world_size > hw.world_size())
      throw InputError("cluster",
                       std::to_string(hw.nodes) + " nodes x " + std::to_string(hw.gpus_per_node) +
                           " GPUs = " + std::to_string(hw.world_size()) + " GPUs",
                       "at least " + std::to_string(plan.world_size) + " GPUs, the plan's world size");
    nics_ = std::max(1, hw.inter_node.nics_per_node);
    leaves_enabled_ =
        hw.inter_node.topology != plan::FabricTopology::single_switch && hw.inter_node.nodes_per_leaf >= 1;
    const std::int32_t leaves =
        leaves_enabled_ ? (hw.nodes + hw.inter_node.nodes_per_leaf - 1) / hw.inter_node.nodes_per_leaf : 1;
    nic_factor_.assign(static_cast<std::size_t>(hw.nodes), 1.0);
    intra_factor_.assign(static_cast<std::size_t>(hw.nodes), 1.0);
    leaf_factor_.assign(static_cast<std::size_t>(leaves), 1.0);
    parse_degradations(leaves);
    intra_bps_ = hw.intra_node.bytes_per_s();
    nic_bps_ = hw.inter_node.link.bytes_per_s();
    oversubscription_ = std::max(1.0, hw.inter_node.oversubscription);

    // NIC sharing: instances of each group kind that cross nodes through each (node, NIC).
    sharers_.assign(kGroupKindCount, std::vector<std::int32_t>(static_cast<std::size_t>(hw.nodes) * nics_, 0));
    for (const auto& g : plan.groups) {
      if (!crosses_nodes(g)) continue;
      std::set<std::int64_t> touched;
      for (plan::Rank r : g.ranks) touched.insert(nic_slot(r));
      for (std::int64_t s : touched) ++sharers_[static_cast<std::size_t>(g.kind)][static_cast<std::size_t>(s)];
    }
    paths_.reserve(plan.groups.size());
    group_kind_.reserve(plan.groups.size());
    for (const auto& g : plan.groups) {
      paths_.push_back(path_of(g));
      group_kind_.push_back(g.kind);
    }
    if (config.profile) measured_.emplace(*config.profile);
  }

  std::string_view tier_name() const override { return "analytical"; }

  PathCost group_path(std::int32_t group_id) const override { return paths_.at(static_cast<std::size_t>(group_id)); }

  PathCost pair_path(plan::Rank a, plan::Rank b, GroupKind kind) const override {
    PathCost p;
    p.ranks = 2;
    const std::int32_t na = hw_.node_of(a), nb = hw_.node_of(b);
    if (na == nb) {
      p.nodes = 1;
      p.latency_s = hw_.intra_node.latency_us * 1e-6;
      p.bandwidth_bytes_per_s = intra_bps_ * intra_factor_[static_cast<std::size_t>(na)];
      return p;
    }
    p.nodes = 2;
    p.inter_node = true;
    p.latency_s = hw_.inter_node.link.latency_us * 1e-6;
    const bool spans_leaves = leaves_enabled_ && leaf_of(na) != leaf_of(nb);
    p.bandwidth_bytes_per_s = std::min(nic_bandwidth(a, kind, spans_leaves), nic_bandwidth(b, kind, spans_leaves));
    return p;
  }

  TimeNs next_event_ns() const override { return queue_.next_time_ns(); }

  void advance_to(TimeNs now_ns, std::vector<Token>& completed) override {
    while (!queue_.empty() && queue_.top().time_ns <= now_ns) completed.push_back(queue_.pop().token);
  }

  void start_collective(TimeNs now_ns, CollectiveType type, std::int32_t group_id, std::int64_t bytes,
                        Token token) override {
    std::string_view algorithm;
    const TimeNs ns = time_collective(type, group_id, bytes, algorithm, &fallbacks_);
    const auto kind = static_cast<std::size_t>(group_kind_[static_cast<std::size_t>(group_id)]);
    ++picked_[kind][static_cast<std::size_t>(type)][label_index(algorithm)];
    queue_.push(now_ns + ns, token);
  }

  void start_p2p(TimeNs now_ns, plan::Rank src, plan::Rank dst, GroupKind kind, std::int64_t bytes,
                 Token token) override {
    TimeNs ns = 0;
    if (bytes > 0) {
      std::optional<double> measured;
      if (measured_) measured = measured_->p2p_ns(bytes);
      if (measured) {
        ns = static_cast<TimeNs>(std::llround(*measured));
      } else {
        const PathCost p = pair_path(src, dst, kind);
        if (!(p.bandwidth_bytes_per_s > 0.0))
          throw InputError(
              "cluster",
              "a link with no bandwidth between ranks " + std::to_string(src) + " and " + std::to_string(dst),
              "bandwidth_gbps > 0 for the links the plan uses");
        ns = static_cast<TimeNs>(
            std::llround((p.latency_s + static_cast<double>(bytes) / p.bandwidth_bytes_per_s) * 1e9));
      }
    }
    queue_.push(now_ns + ns, token);
  }

  TimeNs collective_time_ns(CollectiveType type, std::int32_t group_id, std::int64_t bytes) const override {
    std::string_view algorithm;
    return time_collective(type, group_id, bytes, algorithm, nullptr);
  }

  nlohmann::json report() const override {
    nlohmann::json picked = nlohmann::json::object();
    for (std::size_t k = 0; k < kGroupKindCount; ++k)
      for (std::size_t t = 0; t < enum_count<CollectiveType>(); ++t)
        for (std::size_t a = 0; a < kAlgorithmLabels.size(); ++a)
          if (const auto n = picked_[k][t][a]; n > 0)
            picked[std::string(to_string(static_cast<GroupKind>(k))) + ":" +
                   std::string(to_string(static_cast<CollectiveType>(t)))][std::string(kAlgorithmLabels[a])] = n;
    nlohmann::json out = {{"tier", "analytical"}, {"collective_algorithm", algorithm_.name()}, {"picked", picked}};
    if (measured_) out["measured_fallbacks"] = fallbacks_;
    return out;
  }

 private:
  TimeNs time_collective(CollectiveType type, std::int32_t group_id, std::int64_t bytes, std::string_view& algorithm,
                         std::set<std::string>* fallbacks) const {
    const PathCost& p = paths_.at(static_cast<std::size_t>(group_id));
    if (measured_) {
      std::string note;
      const auto ns = measured_->collective_ns(type, p.ranks, bytes,
                                               p.inter_node ? plan::Placement::inter : plan::Placement::intra, note);
      if (ns) {
        if (fallbacks && !note.empty()) fallbacks->insert(note);
        algorithm = "measured";
        return static_cast<TimeNs>(std::llround(*ns));
      }
      if (fallbacks)
        fallbacks->insert(std::string(to_string(type)) + ": no samples, " + std::string(algorithm_.name()) +
                          " alpha-beta");
    }
    CollectiveRequest r;
    r.type = type;
    r.ranks = p.ranks;
    r.bytes = bytes;
    r.nodes = p.nodes;
    r.latency_s = p.latency_s;
    r.bandwidth_bytes_per_s = p.bandwidth_bytes_per_s;
    const CollectiveTime t = algorithm_.time(r);
    algorithm = t.algorithm;
    return static_cast<TimeNs>(std::llround(t.seconds * 1e9));
  }

  void parse_degradations(std::int32_t leaves) {
    for (std::size_t i = 0; i < hw_.degradations.size(); ++i) {
      const auto& d = hw_.degradations[i];
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
      if (what == "node") target = &nic_factor_, limit = hw_.nodes;
      if (what == "intra") target = &intra_factor_, limit = hw_.nodes;
      if (what == "leaf") target = &leaf_factor_, limit = leaves;
      if (target == nullptr || index < 0 || index >= limit)
        throw InputError(path + ".where", "\"" + d.where + "\"",
                         "\"node:<n>\" or \"intra:<n>\" with n < " + std::to_string(hw_.nodes) +
                             ", or \"leaf:<l>\" with l < " + std::to_string(leaves));
      (*target)[static_cast<std::size_t>(index)] *= d.bandwidth_factor;
    }
  }

  std::int32_t leaf_of(std::int32_t node) const { return leaves_enabled_ ? node / hw_.inter_node.nodes_per_leaf : 0; }
  std::int64_t nic_slot(plan::Rank r) const {
    return static_cast<std::int64_t>(hw_.node_of(r)) * nics_ + (r % hw_.gpus_per_node) % nics_;
  }
  bool crosses_nodes(const plan::Group& g) const {
    for (plan::Rank r : g.ranks)
      if (hw_.node_of(r) != hw_.node_of(g.ranks.front())) return true;
    return false;
  }

  // Bandwidth one rank gets from its NIC for traffic of a group kind.
  double nic_bandwidth(plan::Rank r, GroupKind kind, bool spans_leaves) const {
    const std::int32_t node = hw_.node_of(r);
    const std::int32_t sharing =
        std::max(1, sharers_[static_cast<std::size_t>(kind)][static_cast<std::size_t>(nic_slot(r))]);
    double bw = nic_bps_ * nic_factor_[static_cast<std::size_t>(node)] / sharing;
    if (spans_leaves) bw *= leaf_factor_[static_cast<std::size_t>(leaf_of(node))] / oversubscription_;
    return bw;
  }

  PathCost path_of(const plan::Group& g) const {
    PathCost p;
    p.ranks = static_cast<std::int32_t>(g.ranks.size());
    std::map<std::int32_t, std::int32_t> per_node;
    std::set<std::int32_t> leaves;
    for (plan::Rank r : g.ranks) {
      ++per_node[hw_.node_of(r)];
      leaves.insert(leaf_of(hw_.node_of(r)));
    }
    p.nodes = static_cast<std::int32_t>(per_node.size());
    p.inter_node = p.nodes > 1;
    double bw = kInf, latency = 0.0;
    for (const auto& [node, members] : per_node) {
      if (members < 2) continue;
      bw = std::min(bw, intra_bps_ * intra_factor_[static_cast<std::size_t>(node)]);
      latency = std::max(latency, hw_.intra_node.latency_us * 1e-6);
    }
    if (p.inter_node) {
      const bool spans_leaves = leaves.size() > 1;
      for (plan::Rank r : g.ranks) bw = std::min(bw, nic_bandwidth(r, g.kind, spans_leaves));
      latency = std::max(latency, hw_.inter_node.link.latency_us * 1e-6);
    }
    if (bw == kInf) {  // a single member: nothing moves
      bw = intra_bps_;
      latency = 0.0;
    }
    p.latency_s = latency;
    p.bandwidth_bytes_per_s = bw;
    return p;
  }

  plan::Hardware hw_;
  const CollectiveAlgorithm& algorithm_;
  std::int32_t nics_ = 1;
  bool leaves_enabled_ = false;
  double intra_bps_ = 0.0, nic_bps_ = 0.0, oversubscription_ = 1.0;
  std::vector<double> nic_factor_, intra_factor_, leaf_factor_;
  std::vector<std::vector<std::int32_t>> sharers_;  // [kind][node * nics + nic]
  std::vector<PathCost> paths_;
  std::vector<GroupKind> group_kind_;
  std::optional<detail::MeasuredComm> measured_;
  EventQueue queue_;
  std::array<std::array<std::array<std::int64_t, kAlgorithmLabels.size()>, enum_count<CollectiveType>()>,
             kGroupKindCount>
      picked_{};
  std::set<std::string> fallbacks_;
};

}  // namespace

std::unique_ptr<NetworkModel> make_network_model(const plan::Plan& plan, const plan::Hardware& hardware,
                                                 const NetworkConfig& config) {
  if (config.tier == NetworkTier::flow)
    throw InputError("simulation.network", "\"flow\"",
                     "\"analytical\" (the flow tier, with max-min fair sharing on the leaf/spine graph, is not "
                     "available yet)");
  return std::make_unique<AnalyticalNetwork>(plan, hardware, config);
}

}  // namespace clustersim::engine
