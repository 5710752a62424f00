// The flow network tier (behaviour in network.hpp): collectives and transfers become phases of
// point-to-point flows on the topology graph, and concurrent flows share links by max-min fairness.
//
// How a phase is timed:
//  * isolated: when a phase starts and none of its links carries anything, its duration is its flows'
//    bytes x the phase shape's duration per byte (solved once per shape, the progressive-filling run
//    of its flows alone, and cached); the phase holds its links until it ends.
//  * shared: otherwise its flows join the pool of shared flows, and so do the flows of any isolated
//    phase holding one of its links (their progress at that instant comes from replaying their
//    isolated run up to it). The pool's rates are re-solved whenever a flow joins or finishes; one
//    wake-up event marks the pool's next flow completion.
// A phase shape is keyed by what determines its flows: the instances of the group the collective
// stands for, the collective type, the concrete algorithm and the phase index (for a transfer: the
// sender, the receiver and the group kind). In symmetric mode one shape holds the flows of every
// represented instance, so a shape is built once per class pattern, not per instance.
#include "network_flow.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <unordered_map>

#include "clustersim/engine/collective.hpp"
#include "clustersim/plan/error.hpp"
#include "collective_flows.hpp"
#include "max_min.hpp"
#include "topology.hpp"

namespace clustersim::engine::detail {

namespace {

constexpr std::array<std::string_view, 5> kAlgorithms = {"ring", "tree", "halving-doubling", "hierarchical", "direct"};
constexpr std::size_t kP2PLabel = kAlgorithms.size();

std::size_t algorithm_index(std::string_view name) {
  for (std::size_t i = 0; i < kAlgorithms.size(); ++i)
    if (kAlgorithms[i] == name) return i;
  return 0;
}

// Event tokens: the pool's wake-up carries this bit and the pool version; an activity's phase end
// carries (activity << 32) | version.
constexpr std::int64_t kPoolEvent = std::int64_t{1} << 62;

// One phase's flows, for every instance it stands for.
struct Shape {
  double bytes_fraction = 0.0;
  TimeNs latency_ns = 0;
  std::vector<std::int32_t> route_offset{0};  // flow f crosses route_links[route_offset[f] .. [f + 1])
  std::vector<std::int32_t> route_links;
  std::vector<std::int32_t> links;  // distinct links, ascending
  // The same links as a bit mask over the link ids: (word index, bits), ascending words.
  std::vector<std::pair<std::int32_t, std::uint64_t>> mask;
  double unit_s = -1.0;  // isolated duration per byte of each flow; < 0 until solved
  std::int32_t flows() const { return static_cast<std::int32_t>(route_offset.size()) - 1; }
};

// The phases of one collective (or transfer) pattern.
struct Template {
  std::vector<std::int32_t> shapes;
  std::size_t label = 0;  // kAlgorithms index, or kP2PLabel
};

// A collective or transfer in progress, with the state of its current phase.
struct Activity {
  Token token = 0;
  std::int32_t templ = -1;
  std::int32_t phase = 0;
  double bytes = 0.0;  // S
  std::int32_t shape = -1;
  double flow_bytes = 0.0;
  TimeNs start_ns = 0;         // when the current phase's flows started
  TimeNs transfer_end_ns = 0;  // isolated: when they end
  bool pooled = false;
  bool holds_links = false;   // isolated and holding its links
  std::int32_t held_at = -1;  // its index in the list of holders while it holds them
  std::int32_t flows_left = 0;
  std::uint32_t version = 0;
  bool live = false;
};

struct PoolFlow {
  std::int32_t activity = 0;
  std::int32_t flow = 0;  // index in the activity's shape
  double remaining = 0.0;
  double rate = 0.0;
  TimeNs finish_ns = 0;
};

class FlowNetwork final : public NetworkModel {
 public:
  FlowNetwork(const plan::Plan& plan, const plan::Hardware& hw, const NetworkConfig& config)
      : groups_(plan.groups),
        rank_groups_(plan),
        world_(plan.world_size),
        algorithm_(collective_algorithm(config.collective_algorithm)),
        degradations_(parse_degradations(hw, node_groups(hw))),
        levels_(plan, hw, degradations_),
        graph_(hw, degradations_),
        gpus_per_node_(std::max(1, hw.gpus_per_node)),
        profile_given_(config.profile != nullptr),
        isolation_(config.flow_isolation_shortcut) {
    capacity_.resize(static_cast<std::size_t>(graph_.link_count()));
    for (std::int32_t l = 0; l < graph_.link_count(); ++l) capacity_[static_cast<std::size_t>(l)] = graph_.capacity(l);
    solver_ = std::make_unique<MaxMinSolver>(capacity_);
    pool_link_users_.assign(capacity_.size(), 0);
    occupied_.assign((capacity_.size() + 63) / 64, 0);
    std::vector<std::int32_t> identity(static_cast<std::size_t>(world_));
    for (std::int32_t r = 0; r < world_; ++r) identity[static_cast<std::size_t>(r)] = r;
    set_rank_classes(identity);
    paths_.reserve(groups_.size());
    for (const auto& g : groups_) {
      PathCost p = levels_.group_path(g.id);
      std::set<std::int32_t> leaves;
      if (p.inter_node)
        for (plan::Rank r : g.ranks) leaves.insert(graph_.leaf_of_rank(r));
      p.leaves = std::max<std::int32_t>(1, static_cast<std::int32_t>(leaves.size()));
      paths_.push_back(p);
    }
  }

  std::string_view tier_name() const override { return "flow"; }

  PathCost group_path(std::int32_t group_id) const override { return paths_.at(static_cast<std::size_t>(group_id)); }

  PathCost pair_path(plan::Rank a, plan::Rank b, GroupKind kind) const override {
    PathCost p = levels_.pair_path(a, b, kind);
    p.leaves = p.inter_node && graph_.leaf_of_rank(a) != graph_.leaf_of_rank(b) ? 2 : 1;
    return p;
  }

  void set_rank_classes(const std::vector<std::int32_t>& class_of_rank) override {
    require(static_cast<std::int32_t>(class_of_rank.size()) == world_, "rank classes do not cover the world");
    members_of_class_.clear();
    std::map<std::int32_t, std::size_t> index;
    class_index_.assign(class_of_rank.size(), 0);
    for (std::size_t r = 0; r < class_of_rank.size(); ++r) {
      const auto [it, inserted] = index.emplace(class_of_rank[r], members_of_class_.size());
      if (inserted) members_of_class_.emplace_back();
      members_of_class_[it->second].push_back(static_cast<plan::Rank>(r));
      class_index_[r] = static_cast<std::int32_t>(it->second);
    }
    // Instances: groups of one kind whose members fall into the same classes (the workload's
    // rendezvous key).
    std::map<std::pair<GroupKind, std::vector<std::int32_t>>, std::int32_t> set_ids;
    instance_set_.assign(groups_.size(), -1);
    instances_.clear();
    for (const auto& g : groups_) {
      std::vector<std::int32_t> classes;
      for (plan::Rank r : g.ranks) classes.push_back(class_index_[static_cast<std::size_t>(r)]);
      std::sort(classes.begin(), classes.end());
      classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
      const auto [it, inserted] =
          set_ids.emplace(std::make_pair(g.kind, std::move(classes)), static_cast<std::int32_t>(instances_.size()));
      if (inserted) instances_.emplace_back();
      instances_[static_cast<std::size_t>(it->second)].push_back(g.id);
      instance_set_[static_cast<std::size_t>(g.id)] = it->second;
    }
    collective_templates_.clear();
    p2p_templates_.clear();
    picks_.clear();
  }

  TimeNs next_event_ns() const override { return queue_.next_time_ns(); }

  void advance_to(TimeNs now_ns, std::vector<Token>& completed) override {
    while (!queue_.empty() && queue_.top().time_ns <= now_ns) {
      const Event e = queue_.pop();
      if ((e.token & kPoolEvent) != 0) {
        if (static_cast<std::uint32_t>(e.token & 0xffffffff) != pool_version_) continue;
        advance_pool(e.time_ns);
        solve_pool(e.time_ns);
        continue;
      }
      const auto id = static_cast<std::int32_t>(e.token >> 32);
      Activity& a = activities_[static_cast<std::size_t>(id)];
      if (!a.live || a.version != static_cast<std::uint32_t>(e.token & 0xffffffff)) continue;
      if (a.holds_links) release_links(id);
      ++a.phase;
      const Template& t = templates_[static_cast<std::size_t>(a.templ)];
      if (a.phase < static_cast<std::int32_t>(t.shapes.size())) {
        begin_phase(e.time_ns, id);
        continue;
      }
      completed.push_back(a.token);
      a.live = false;
      free_activities_.push_back(id);
    }
  }

  void start_collective(TimeNs now_ns, CollectiveType type, std::int32_t group_id, std::int64_t bytes, DType,
                        Token token) override {
    const std::int32_t templ = collective_template(type, group_id, bytes);
    ++picked_[static_cast<std::size_t>(levels_.kind_of(group_id))][static_cast<std::size_t>(type)]
             [templates_[static_cast<std::size_t>(templ)].label];
    start_activity(now_ns, templ, bytes, token);
  }

  void start_p2p(TimeNs now_ns, plan::Rank src, plan::Rank dst, GroupKind kind, std::int64_t bytes,
                 Token token) override {
    start_activity(now_ns, p2p_template(src, dst, kind), bytes, token);
  }

  TimeNs collective_time_ns(CollectiveType type, std::int32_t group_id, std::int64_t bytes) const override {
    auto& self = const_cast<FlowNetwork&>(*this);  // fills the template caches only
    const std::int32_t templ = self.collective_template(type, group_id, bytes);
    TimeNs total = 0;
    if (bytes <= 0) return 0;
    for (std::int32_t s : templates_[static_cast<std::size_t>(templ)].shapes) {
      const Shape& sh = shapes_[static_cast<std::size_t>(s)];
      const double flow_bytes = sh.bytes_fraction * static_cast<double>(bytes);
      if (sh.flows() > 0 && flow_bytes > 0.0)
        total += static_cast<TimeNs>(std::llround(flow_bytes * self.unit_time(s) * 1e9));
      total += sh.latency_ns;
    }
    return total;
  }

  nlohmann::json report() const override {
    nlohmann::json picked = nlohmann::json::object();
    for (std::size_t k = 0; k < kGroupKindCount; ++k)
      for (std::size_t t = 0; t < enum_count<CollectiveType>(); ++t)
        for (std::size_t a = 0; a < kAlgorithms.size(); ++a)
          if (const auto n = picked_[k][t][a]; n > 0)
            picked[std::string(to_string(static_cast<GroupKind>(k))) + ":" +
                   std::string(to_string(static_cast<CollectiveType>(t)))][std::string(kAlgorithms[a])] = n;
    nlohmann::json out = {{"tier", "flow"},
                          {"collective_algorithm", algorithm_.name()},
                          {"picked", picked},
                          {"links", graph_.link_count()},
                          {"phase_shapes", shapes_.size()},
                          {"phases", {{"isolated", isolated_phases_}, {"shared", shared_phases_}}},
                          {"max_min_solves", solves_}};
    if (profile_given_) out["measured_comm"] = "not used: the flow tier times communication on the topology";
    return out;
  }

 private:
  // --- templates ---------------------------------------------------------------------------------

  // Appends the flow src -> dst to `shape` (routes, latency); InputError on a link without bandwidth.
  void add_flow(Shape& shape, plan::Rank src, plan::Rank dst, double& latency_s) const {
    const Route route = graph_.route(src, dst);
    for (std::int32_t h = 0; h < route.hops; ++h) {
      const std::int32_t link = route.links[static_cast<std::size_t>(h)];
      if (!(capacity_[static_cast<std::size_t>(link)] > 0.0))
        throw InputError("cluster",
                         "a link with no bandwidth (" + graph_.link_name(link) + ") between ranks " +
                             std::to_string(src) + " and " + std::to_string(dst),
                         "bandwidth_gbps > 0 for the links the plan uses");
      shape.route_links.push_back(link);
    }
    shape.route_offset.push_back(static_cast<std::int32_t>(shape.route_links.size()));
    latency_s = std::max(latency_s, graph_.latency_s(src, dst));
  }

  std::int32_t finish_shape(Shape shape, double latency_s, std::int32_t hops) {
    shape.latency_ns = static_cast<TimeNs>(std::llround(hops * latency_s * 1e9));
    shape.links = shape.route_links;
    std::sort(shape.links.begin(), shape.links.end());
    shape.links.erase(std::unique(shape.links.begin(), shape.links.end()), shape.links.end());
    for (std::int32_t l : shape.links) {
      const std::int32_t word = l / 64;
      if (shape.mask.empty() || shape.mask.back().first != word) shape.mask.emplace_back(word, 0);
      shape.mask.back().second |= std::uint64_t{1} << (l % 64);
    }
    shapes_.push_back(std::move(shape));
    return static_cast<std::int32_t>(shapes_.size()) - 1;
  }

  // The template of a collective: the algorithm pick (which may depend on the bytes) is remembered
  // per (group, type, bytes), the phases per (instances, type, algorithm).
  std::int32_t collective_template(CollectiveType type, std::int32_t group_id, std::int64_t bytes) {
    const PickKey pick_key{group_id, type, bytes};
    if (const auto it = picks_.find(pick_key); it != picks_.end()) return it->second;
    const std::int32_t id = build_collective_template(type, group_id, bytes);
    picks_.emplace(pick_key, id);
    return id;
  }

  std::int32_t build_collective_template(CollectiveType type, std::int32_t group_id, std::int64_t bytes) {
    const CollectiveTime pick = algorithm_.time(levels_.request(group_id, type, bytes));
    const std::size_t label = algorithm_index(pick.algorithm);
    const std::int64_t key = (static_cast<std::int64_t>(instance_set_[static_cast<std::size_t>(group_id)]) * 8 +
                              static_cast<std::int64_t>(type)) *
                                 8 +
                             static_cast<std::int64_t>(label);
    if (const auto it = collective_templates_.find(key); it != collective_templates_.end()) return it->second;

    const plan::Group& rep = groups_[static_cast<std::size_t>(group_id)];
    std::vector<std::int32_t> node_of_member;
    for (plan::Rank r : rep.ranks) node_of_member.push_back(r / gpus_per_node_);
    Template t;
    t.label = label;
    for (const PhaseShape& phase : decompose_collective(kAlgorithms[label], type, node_of_member)) {
      Shape shape;
      shape.bytes_fraction = phase.bytes_fraction;
      double latency_s = 0.0;
      for (std::int32_t g : instances_[static_cast<std::size_t>(instance_set_[static_cast<std::size_t>(group_id)])]) {
        const auto& members = groups_[static_cast<std::size_t>(g)].ranks;
        require(members.size() == rep.ranks.size(), "instances of a symmetric group differ in size");
        for (const FlowEdge& e : phase.flows)
          add_flow(shape, members[static_cast<std::size_t>(e.src)], members[static_cast<std::size_t>(e.dst)],
                   latency_s);
      }
      t.shapes.push_back(finish_shape(std::move(shape), latency_s, phase.latency_hops));
    }
    templates_.push_back(std::move(t));
    const auto id = static_cast<std::int32_t>(templates_.size()) - 1;
    collective_templates_.emplace(key, id);
    return id;
  }

  std::int32_t p2p_template(plan::Rank src, plan::Rank dst, GroupKind kind) {
    const std::int64_t key =
        (static_cast<std::int64_t>(src) * world_ + dst) * kGroupKindCount + static_cast<std::int64_t>(kind);
    if (const auto it = p2p_templates_.find(key); it != p2p_templates_.end()) return it->second;
    const std::int32_t g = rank_groups_.group_of(src, kind);
    require(g != plan::kNone, "a transfer outside the sender's group");
    const auto n = static_cast<std::int32_t>(groups_[static_cast<std::size_t>(g)].ranks.size());
    const std::int32_t offset =
        ((rank_groups_.index_in_group(dst, kind) - rank_groups_.index_in_group(src, kind)) % n + n) % n;
    Shape shape;
    shape.bytes_fraction = 1.0;
    double latency_s = 0.0;
    for (plan::Rank a : members_of_class_[static_cast<std::size_t>(class_index_[static_cast<std::size_t>(src)])]) {
      const std::int32_t ga = rank_groups_.group_of(a, kind);
      if (ga == plan::kNone) continue;
      const auto& members = groups_[static_cast<std::size_t>(ga)].ranks;
      const auto size = static_cast<std::int32_t>(members.size());
      const plan::Rank peer = members[static_cast<std::size_t>((rank_groups_.index_in_group(a, kind) + offset) % size)];
      if (peer != a) add_flow(shape, a, peer, latency_s);
    }
    Template t;
    t.label = kP2PLabel;
    t.shapes.push_back(finish_shape(std::move(shape), latency_s, 1));
    templates_.push_back(std::move(t));
    const auto id = static_cast<std::int32_t>(templates_.size()) - 1;
    p2p_templates_.emplace(key, id);
    return id;
  }

  // --- isolated runs -------------------------------------------------------------------------------

  // Runs the shape's flows alone, `bytes` each, until they finish or `stop_s` passes; returns the
  // time they took (stop_s when stopped) and leaves each flow's remaining bytes in `remaining`.
  double run_isolated(const Shape& sh, double bytes, double stop_s, std::vector<double>& remaining) {
    const std::int32_t n = sh.flows();
    remaining.assign(static_cast<std::size_t>(n), bytes);
    std::vector<std::int32_t> active(static_cast<std::size_t>(n));
    for (std::int32_t f = 0; f < n; ++f) active[static_cast<std::size_t>(f)] = f;
    double t = 0.0;
    std::vector<double> rates;
    while (!active.empty()) {
      scratch_offset_.assign(1, 0);
      scratch_links_.clear();
      for (std::int32_t f : active) {
        for (std::int32_t i = sh.route_offset[static_cast<std::size_t>(f)];
             i < sh.route_offset[static_cast<std::size_t>(f) + 1]; ++i)
          scratch_links_.push_back(sh.route_links[static_cast<std::size_t>(i)]);
        scratch_offset_.push_back(static_cast<std::int32_t>(scratch_links_.size()));
      }
      solver_->solve(static_cast<std::int32_t>(active.size()), scratch_offset_.data(), scratch_links_.data(), rates);
      ++solves_;
      double dt = std::numeric_limits<double>::infinity();
      for (std::size_t i = 0; i < active.size(); ++i)
        dt = std::min(dt, remaining[static_cast<std::size_t>(active[i])] / rates[i]);
      const bool stop = t + dt >= stop_s;
      if (stop) dt = stop_s - t;
      for (std::size_t i = 0; i < active.size(); ++i) remaining[static_cast<std::size_t>(active[i])] -= rates[i] * dt;
      t += dt;
      if (stop) return t;
      const double done = bytes * 1e-9;
      std::erase_if(active, [&](std::int32_t f) {
        if (remaining[static_cast<std::size_t>(f)] > done) return false;
        remaining[static_cast<std::size_t>(f)] = 0.0;
        return true;
      });
    }
    return t;
  }

  double unit_time(std::int32_t shape) {
    Shape& sh = shapes_[static_cast<std::size_t>(shape)];
    if (sh.unit_s < 0.0) {
      std::vector<double> remaining;
      sh.unit_s = run_isolated(sh, 1.0, std::numeric_limits<double>::infinity(), remaining);
    }
    return sh.unit_s;
  }

  // --- activities and phases -----------------------------------------------------------------------

  void start_activity(TimeNs now_ns, std::int32_t templ, std::int64_t bytes, Token token) {
    std::int32_t id;
    if (!free_activities_.empty()) {
      id = free_activities_.back();
      free_activities_.pop_back();
    } else {
      id = static_cast<std::int32_t>(activities_.size());
      activities_.emplace_back();
    }
    Activity& a = activities_[static_cast<std::size_t>(id)];
    a.token = token;
    a.templ = templ;
    a.phase = 0;
    a.bytes = static_cast<double>(std::max<std::int64_t>(bytes, 0));
    a.live = true;
    a.holds_links = false;
    a.pooled = false;
    ++a.version;
    const Template& t = templates_[static_cast<std::size_t>(templ)];
    if (bytes <= 0 || t.shapes.empty()) {  // nothing moves: done at once
      a.phase = static_cast<std::int32_t>(t.shapes.size());
      queue_.push(now_ns, event_token(id));
      return;
    }
    begin_phase(now_ns, id);
  }

  std::int64_t event_token(std::int32_t id) const {
    return (static_cast<std::int64_t>(id) << 32) | activities_[static_cast<std::size_t>(id)].version;
  }

  void begin_phase(TimeNs now_ns, std::int32_t id) {
    Activity& a = activities_[static_cast<std::size_t>(id)];
    a.shape = templates_[static_cast<std::size_t>(a.templ)].shapes[static_cast<std::size_t>(a.phase)];
    const Shape& sh = shapes_[static_cast<std::size_t>(a.shape)];
    a.flow_bytes = sh.bytes_fraction * a.bytes;
    a.start_ns = now_ns;
    a.pooled = false;
    a.holds_links = false;
    if (sh.flows() == 0 || !(a.flow_bytes > 0.0)) {
      a.transfer_end_ns = now_ns;
      queue_.push(now_ns + sh.latency_ns, event_token(id));
      return;
    }
    bool pool_touched = false;
    if (!isolation_) {
      advance_pool(now_ns);
      ++shared_phases_;
      a.pooled = true;
      a.flows_left = sh.flows();
      for (std::int32_t f = 0; f < sh.flows(); ++f) add_pool_flow(id, f, a.flow_bytes);
      solve_pool(now_ns);
      return;
    }
    if (busy(sh)) {
      // Whoever holds those links in isolation joins the pool; holders merely in their latency tail
      // just let go, and the phase may find its links free after all.
      advance_pool(now_ns);
      pool_touched = true;
      held_scratch_ = holders_;
      for (std::int32_t other : held_scratch_)
        if (overlaps(sh, shapes_[static_cast<std::size_t>(activities_[static_cast<std::size_t>(other)].shape)]))
          materialise(now_ns, other);
    }
    if (!busy(sh)) {
      ++isolated_phases_;
      const auto transfer = static_cast<TimeNs>(std::llround(a.flow_bytes * unit_time(a.shape) * 1e9));
      a.transfer_end_ns = now_ns + transfer;
      a.holds_links = true;
      a.held_at = static_cast<std::int32_t>(holders_.size());
      holders_.push_back(id);
      for (const auto& [word, bits] : sh.mask) occupied_[static_cast<std::size_t>(word)] |= bits;
      queue_.push(a.transfer_end_ns + sh.latency_ns, event_token(id));
      if (pool_touched) solve_pool(now_ns);  // flows may have finished or joined at this instant
      return;
    }
    ++shared_phases_;
    a.pooled = true;
    a.flows_left = sh.flows();
    for (std::int32_t f = 0; f < sh.flows(); ++f) add_pool_flow(id, f, a.flow_bytes);
    solve_pool(now_ns);
  }

  // Whether any of the shape's links carries something now.
  bool busy(const Shape& sh) const {
    for (const auto& [word, bits] : sh.mask)
      if ((occupied_[static_cast<std::size_t>(word)] & bits) != 0) return true;
    return false;
  }

  static bool overlaps(const Shape& x, const Shape& y) {
    auto i = x.mask.begin(), j = y.mask.begin();
    while (i != x.mask.end() && j != y.mask.end()) {
      if (i->first < j->first)
        ++i;
      else if (j->first < i->first)
        ++j;
      else if ((i->second & j->second) != 0)
        return true;
      else
        ++i, ++j;
    }
    return false;
  }

  // An isolated phase lets go of its links (no one else uses them: isolation is exclusive).
  void release_links(std::int32_t id) {
    Activity& a = activities_[static_cast<std::size_t>(id)];
    for (const auto& [word, bits] : shapes_[static_cast<std::size_t>(a.shape)].mask)
      occupied_[static_cast<std::size_t>(word)] &= ~bits;
    const std::int32_t moved = holders_.back();
    holders_[static_cast<std::size_t>(a.held_at)] = moved;
    activities_[static_cast<std::size_t>(moved)].held_at = a.held_at;
    holders_.pop_back();
    a.held_at = -1;
    a.holds_links = false;
  }

  void take_pool_link(std::int32_t link) {
    if (pool_link_users_[static_cast<std::size_t>(link)]++ == 0)
      occupied_[static_cast<std::size_t>(link / 64)] |= std::uint64_t{1} << (link % 64);
  }
  void drop_pool_link(std::int32_t link) {
    if (--pool_link_users_[static_cast<std::size_t>(link)] == 0)
      occupied_[static_cast<std::size_t>(link / 64)] &= ~(std::uint64_t{1} << (link % 64));
  }

  // An isolated phase whose links another phase needs: its flows join the pool with what they have
  // left (none when it is already in its latency tail, whose end event then stands).
  void materialise(TimeNs now_ns, std::int32_t id) {
    release_links(id);
    Activity& a = activities_[static_cast<std::size_t>(id)];
    if (now_ns >= a.transfer_end_ns) return;
    const Shape& sh = shapes_[static_cast<std::size_t>(a.shape)];
    std::vector<double> remaining;
    run_isolated(sh, a.flow_bytes, static_cast<double>(now_ns - a.start_ns) * 1e-9, remaining);
    a.pooled = true;
    ++a.version;  // its scheduled end no longer holds
    a.flows_left = 0;
    for (std::int32_t f = 0; f < sh.flows(); ++f)
      if (remaining[static_cast<std::size_t>(f)] > a.flow_bytes * 1e-9) {
        add_pool_flow(id, f, remaining[static_cast<std::size_t>(f)]);
        ++a.flows_left;
      }
    if (a.flows_left == 0) queue_.push(now_ns + sh.latency_ns, event_token(id));
  }

  void add_pool_flow(std::int32_t id, std::int32_t flow, double bytes) {
    const Shape& sh = shapes_[static_cast<std::size_t>(activities_[static_cast<std::size_t>(id)].shape)];
    for (std::int32_t i = sh.route_offset[static_cast<std::size_t>(flow)];
         i < sh.route_offset[static_cast<std::size_t>(flow) + 1]; ++i)
      take_pool_link(sh.route_links[static_cast<std::size_t>(i)]);
    pool_.push_back({id, flow, bytes, 0.0, 0});
  }

  // Moves the pool's flows to `now_ns`: those due finish (their phase ends after its latency when
  // it was the last), the others lose what they sent.
  void advance_pool(TimeNs now_ns) {
    const double dt = static_cast<double>(now_ns - pool_time_ns_) * 1e-9;
    pool_time_ns_ = now_ns;
    for (std::size_t i = 0; i < pool_.size();) {
      PoolFlow& f = pool_[i];
      if (f.finish_ns > now_ns) {
        f.remaining = std::max(f.remaining - f.rate * dt, 0.0);
        ++i;
        continue;
      }
      Activity& a = activities_[static_cast<std::size_t>(f.activity)];
      const Shape& sh = shapes_[static_cast<std::size_t>(a.shape)];
      for (std::int32_t k = sh.route_offset[static_cast<std::size_t>(f.flow)];
           k < sh.route_offset[static_cast<std::size_t>(f.flow) + 1]; ++k)
        drop_pool_link(sh.route_links[static_cast<std::size_t>(k)]);
      if (--a.flows_left == 0) {
        a.transfer_end_ns = now_ns;
        queue_.push(now_ns + sh.latency_ns, event_token(f.activity));
      }
      pool_[i] = pool_.back();
      pool_.pop_back();
    }
  }

  // New rates for the pool, and the wake-up at its next flow completion.
  void solve_pool(TimeNs now_ns) {
    ++pool_version_;
    if (pool_.empty()) return;
    scratch_offset_.assign(1, 0);
    scratch_links_.clear();
    for (const PoolFlow& f : pool_) {
      const Shape& sh = shapes_[static_cast<std::size_t>(activities_[static_cast<std::size_t>(f.activity)].shape)];
      for (std::int32_t k = sh.route_offset[static_cast<std::size_t>(f.flow)];
           k < sh.route_offset[static_cast<std::size_t>(f.flow) + 1]; ++k)
        scratch_links_.push_back(sh.route_links[static_cast<std::size_t>(k)]);
      scratch_offset_.push_back(static_cast<std::int32_t>(scratch_links_.size()));
    }
    solver_->solve(static_cast<std::int32_t>(pool_.size()), scratch_offset_.data(), scratch_links_.data(), rates_);
    ++solves_;
    TimeNs next = kNever;
    for (std::size_t i = 0; i < pool_.size(); ++i) {
      PoolFlow& f = pool_[i];
      f.rate = rates_[i];
      f.finish_ns = now_ns + static_cast<TimeNs>(std::llround(f.remaining / f.rate * 1e9));
      next = std::min(next, f.finish_ns);
    }
    queue_.push(next, kPoolEvent | pool_version_);
  }

  // --- state -----------------------------------------------------------------------------------------

  std::vector<plan::Group> groups_;
  plan::RankGroups rank_groups_;
  std::int32_t world_ = 0;
  const CollectiveAlgorithm& algorithm_;
  Degradations degradations_;
  LevelView levels_;
  FlowGraph graph_;
  std::int32_t gpus_per_node_ = 1;
  bool profile_given_ = false;
  bool isolation_ = true;  // NetworkConfig::flow_isolation_shortcut
  std::vector<double> capacity_;
  std::unique_ptr<MaxMinSolver> solver_;
  std::vector<PathCost> paths_;

  // Rank classes and group instances.
  std::vector<std::int32_t> class_index_;  // per rank: a dense id of its class
  std::vector<std::vector<plan::Rank>> members_of_class_;
  std::vector<std::int32_t> instance_set_;            // per group
  std::vector<std::vector<std::int32_t>> instances_;  // per set: its groups

  // Templates.
  std::vector<Shape> shapes_;
  std::vector<Template> templates_;
  std::unordered_map<std::int64_t, std::int32_t> collective_templates_, p2p_templates_;
  struct PickKey {
    std::int32_t group = 0;
    CollectiveType type = CollectiveType::all_reduce;
    std::int64_t bytes = 0;
    bool operator==(const PickKey&) const = default;
  };
  struct PickHash {
    std::size_t operator()(const PickKey& k) const {
      return std::hash<std::int64_t>()(k.bytes * 1'000'003 + k.group * 8 + static_cast<std::int64_t>(k.type));
    }
  };
  std::unordered_map<PickKey, std::int32_t, PickHash> picks_;

  // Run state.
  EventQueue queue_;
  std::vector<Activity> activities_;
  std::vector<std::int32_t> free_activities_;
  // Links in use, one bit each: held by an isolated phase (exclusively) or crossed by pooled flows.
  std::vector<std::uint64_t> occupied_;
  std::vector<std::int32_t> holders_, held_scratch_;  // isolated phases holding links
  std::vector<std::int32_t> pool_link_users_;         // pooled flows crossing each link
  std::vector<PoolFlow> pool_;
  TimeNs pool_time_ns_ = 0;
  std::uint32_t pool_version_ = 0;
  std::vector<std::int32_t> scratch_offset_, scratch_links_;
  std::vector<double> rates_;

  // Report.
  std::array<std::array<std::array<std::int64_t, kAlgorithms.size() + 1>, enum_count<CollectiveType>()>,
             kGroupKindCount>
      picked_{};
  std::int64_t isolated_phases_ = 0, shared_phases_ = 0, solves_ = 0;
};

}  // namespace

std::unique_ptr<NetworkModel> make_flow_network(const plan::Plan& plan, const plan::Hardware& hardware,
                                                const NetworkConfig& config) {
  return std::make_unique<FlowNetwork>(plan, hardware, config);
}

}  // namespace clustersim::engine::detail
