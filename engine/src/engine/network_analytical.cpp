// The analytical network tier (network.hpp): a two-level topology (NVSwitch inside nodes, rail NICs
// between them) that reduces every group and every pair of ranks to the alpha and B of the slowest
// level it crosses, and times collectives with a registered CollectiveAlgorithm (or a calibration
// profile's measurements). Transfers never interact at run time: contention between concurrent
// instances of a group kind is folded into B up front (NIC sharing); the levels themselves are worked
// out by detail::LevelView (topology.hpp). Also home of make_network_model, which picks the tier.
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
#include "network_flow.hpp"
#include "topology.hpp"

namespace clustersim::engine {

std::string_view network_tier_name(NetworkTier tier) {
  return tier == NetworkTier::analytical ? "analytical" : "flow";
}

namespace {

constexpr std::array<std::string_view, 6> kAlgorithmLabels = {"ring",         "tree",   "halving-doubling",
                                                              "hierarchical", "direct", "measured"};

std::size_t label_index(std::string_view algorithm) {
  for (std::size_t i = 0; i < kAlgorithmLabels.size(); ++i)
    if (kAlgorithmLabels[i] == algorithm) return i;
  return 0;
}

class AnalyticalNetwork final : public NetworkModel {
 public:
  AnalyticalNetwork(const plan::Plan& plan, const plan::Hardware& hw, const NetworkConfig& config)
      : algorithm_(collective_algorithm(config.collective_algorithm)),
        levels_(plan, hw, detail::parse_degradations(hw, detail::node_groups(hw))) {
    if (config.profile) measured_.emplace(*config.profile);
  }

  std::string_view tier_name() const override { return "analytical"; }

  PathCost group_path(std::int32_t group_id) const override { return levels_.group_path(group_id); }

  PathCost pair_path(plan::Rank a, plan::Rank b, GroupKind kind) const override {
    return levels_.pair_path(a, b, kind);
  }

  TimeNs next_event_ns() const override { return queue_.next_time_ns(); }

  void advance_to(TimeNs now_ns, std::vector<Token>& completed) override {
    while (!queue_.empty() && queue_.top().time_ns <= now_ns) completed.push_back(queue_.pop().token);
  }

  void start_collective(TimeNs now_ns, CollectiveType type, std::int32_t group_id, std::int64_t bytes, DType dtype,
                        Token token) override {
    std::string_view algorithm;
    const TimeNs ns = time_collective(type, group_id, bytes, dtype, algorithm, &fallbacks_);
    const auto kind = static_cast<std::size_t>(levels_.kind_of(group_id));
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
    return time_collective(type, group_id, bytes, DType::fp32, algorithm, nullptr);
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
  TimeNs time_collective(CollectiveType type, std::int32_t group_id, std::int64_t bytes, DType dtype,
                         std::string_view& algorithm, std::set<std::string>* fallbacks) const {
    const PathCost& p = levels_.group_path(group_id);
    if (measured_) {
      std::string note;
      const auto ns = measured_->collective_ns(
          type, p.ranks, bytes, p.inter_node ? plan::Placement::inter : plan::Placement::intra, dtype, note);
      if (ns) {
        if (fallbacks && !note.empty()) fallbacks->insert(note);
        algorithm = "measured";
        return static_cast<TimeNs>(std::llround(*ns));
      }
      if (fallbacks)
        fallbacks->insert(std::string(to_string(type)) + ": no samples, " + std::string(algorithm_.name()) +
                          " alpha-beta");
    }
    const CollectiveTime t = algorithm_.time(levels_.request(group_id, type, bytes));
    algorithm = t.algorithm;
    return static_cast<TimeNs>(std::llround(t.seconds * 1e9));
  }

  const CollectiveAlgorithm& algorithm_;
  detail::LevelView levels_;
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
  detail::check_cluster(plan, hardware);
  if (config.tier == NetworkTier::flow) return detail::make_flow_network(plan, hardware, config);
  return std::make_unique<AnalyticalNetwork>(plan, hardware, config);
}

}  // namespace clustersim::engine
