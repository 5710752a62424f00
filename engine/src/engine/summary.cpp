// Interval arithmetic over one rank's op spans: busy union, exposed communication, the comm table.
// Spans are gathered per stream: on one stream an op starts only after the previous one ended, so
// each stream's spans come out sorted and disjoint, and the union is a merge of a few sorted runs
// instead of a sort of every span.
#include "summary.hpp"

#include <algorithm>
#include <array>
#include <string_view>
#include <utility>

namespace clustersim::engine::detail {

namespace {

using Interval = std::pair<std::int64_t, std::int64_t>;

// Spans of one category of ops, kept per stream in program order.
class StreamSpans {
 public:
  explicit StreamSpans(std::size_t streams) : runs_(streams) {}
  void add(std::size_t stream, Interval span) {
    if (span.second > span.first) runs_[stream].push_back(span);
  }
  // The union as sorted, disjoint intervals (touching ones joined).
  std::vector<Interval> merged() {
    std::vector<Interval> all;
    std::size_t total = 0;
    for (const auto& r : runs_) total += r.size();
    all.reserve(total);
    for (const auto& r : runs_) {
      const auto mid = static_cast<std::ptrdiff_t>(all.size());
      all.insert(all.end(), r.begin(), r.end());
      if (mid > 0 && !r.empty()) std::inplace_merge(all.begin(), all.begin() + mid, all.end());
    }
    std::vector<Interval> out;
    out.reserve(all.size());
    for (const auto& s : all) {
      if (!out.empty() && s.first <= out.back().second)
        out.back().second = std::max(out.back().second, s.second);
      else
        out.push_back(s);
    }
    return out;
  }

 private:
  std::vector<std::vector<Interval>> runs_;
};

// Length of [a, b) outside the (sorted, disjoint) busy intervals.
std::int64_t idle_part(const std::vector<Interval>& busy, std::int64_t a, std::int64_t b) {
  if (b <= a) return 0;
  std::int64_t covered = 0;
  auto it =
      std::upper_bound(busy.begin(), busy.end(), a, [](std::int64_t v, const Interval& i) { return v < i.second; });
  for (; it != busy.end() && it->first < b; ++it) covered += std::min(b, it->second) - std::max(a, it->first);
  return (b - a) - covered;
}

// The comm table's type column: collective types, then "send" and "recv".
constexpr std::size_t kCommTypes = enum_count<CollectiveType>() + 2;
std::string_view comm_type_name(std::size_t i) {
  if (i < enum_count<CollectiveType>()) return to_string(static_cast<CollectiveType>(i));
  return i == enum_count<CollectiveType>() ? "send" : "recv";
}

}  // namespace

RankActivity rank_activity(const OpTable& table, const std::int64_t* start_ns, const std::int64_t* end_ns,
                           std::vector<plan::CommSummary>* comm) {
  RankActivity out;
  const std::size_t streams = table.streams;
  StreamSpans kernels(streams), comms(streams), collectives(streams);
  const std::size_t n = table.tag.size();
  for (std::size_t i = 0; i < n; ++i) {
    out.end_ns = std::max(out.end_ns, end_ns[i]);
    const Interval span{start_ns[i], end_ns[i]};
    const auto stream = static_cast<std::size_t>(table.stream[i]);
    switch (table.tag[i]) {
      case OpTag::kernel:
        kernels.add(stream, span);
        break;
      case OpTag::collective:
        collectives.add(stream, span);
        comms.add(stream, span);
        break;
      case OpTag::send:
      case OpTag::recv:
        comms.add(stream, span);
        break;
      case OpTag::local:
        break;
    }
  }
  const std::vector<Interval> busy = kernels.merged();
  for (const auto& b : busy) out.busy_ns += b.second - b.first;
  for (const auto& c : comms.merged()) out.exposed_comm_ns += idle_part(busy, c.first, c.second);
  for (const auto& c : collectives.merged()) out.exposed_collective_ns += idle_part(busy, c.first, c.second);

  if (comm != nullptr) {
    std::array<std::array<plan::CommSummary, kCommTypes>, kGroupKindCount> cells{};
    for (std::size_t i = 0; i < n; ++i) {
      const OpTag tag = table.tag[i];
      if (tag != OpTag::collective && tag != OpTag::send && tag != OpTag::recv) continue;
      const CommInfo& c = table.comm[i];
      const std::size_t type = tag == OpTag::collective ? static_cast<std::size_t>(c.type)
                               : tag == OpTag::send     ? enum_count<CollectiveType>()
                                                        : enum_count<CollectiveType>() + 1;
      auto& s = cells[static_cast<std::size_t>(c.kind)][type];
      ++s.count;
      s.bytes += c.bytes;
      s.time_s += static_cast<double>(end_ns[i] - start_ns[i]) * 1e-9;
      s.exposed_s += static_cast<double>(idle_part(busy, start_ns[i], end_ns[i])) * 1e-9;
    }
    // Rows sorted by (group kind, type name).
    std::array<std::size_t, kCommTypes> by_name{};
    for (std::size_t i = 0; i < kCommTypes; ++i) by_name[i] = i;
    std::sort(by_name.begin(), by_name.end(),
              [](std::size_t a, std::size_t b) { return comm_type_name(a) < comm_type_name(b); });
    comm->clear();
    for (std::size_t k = 0; k < kGroupKindCount; ++k)
      for (std::size_t type : by_name) {
        plan::CommSummary& s = cells[k][type];
        if (s.count == 0) continue;
        s.group = static_cast<GroupKind>(k);
        s.type = std::string(comm_type_name(type));
        comm->push_back(std::move(s));
      }
  }
  return out;
}

}  // namespace clustersim::engine::detail
