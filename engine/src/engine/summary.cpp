// Interval arithmetic over one rank's op spans: busy union, exposed communication, the comm table.
#include "summary.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <utility>

namespace clustersim::engine::detail {

namespace {

using Interval = std::pair<std::int64_t, std::int64_t>;

std::vector<Interval> merged(std::vector<Interval> spans) {
  std::sort(spans.begin(), spans.end());
  std::vector<Interval> out;
  for (const auto& s : spans) {
    if (s.second <= s.first) continue;
    if (!out.empty() && s.first <= out.back().second)
      out.back().second = std::max(out.back().second, s.second);
    else
      out.push_back(s);
  }
  return out;
}

// Length of [a, b) outside the (sorted, disjoint) busy intervals.
std::int64_t idle_part(const std::vector<Interval>& busy, std::int64_t a, std::int64_t b) {
  if (b <= a) return 0;
  std::int64_t covered = 0;
  auto it =
      std::upper_bound(busy.begin(), busy.end(), a, [](std::int64_t v, const Interval& i) { return v < i.second; });
  for (; it != busy.end() && it->first < b; ++it) covered += std::min(b, it->second) - std::max(a, it->first);
  return (b - a) - covered;
}

}  // namespace

RankActivity rank_activity(const OpTable& table, const std::int64_t* start_ns, const std::int64_t* end_ns,
                           std::vector<plan::CommSummary>* comm) {
  RankActivity out;
  std::vector<Interval> kernels, comms, collectives;
  const std::size_t n = table.tag.size();
  for (std::size_t i = 0; i < n; ++i) {
    out.end_ns = std::max(out.end_ns, end_ns[i]);
    const Interval span{start_ns[i], end_ns[i]};
    switch (table.tag[i]) {
      case OpTag::kernel:
        kernels.push_back(span);
        break;
      case OpTag::collective:
        collectives.push_back(span);
        comms.push_back(span);
        break;
      case OpTag::send:
      case OpTag::recv:
        comms.push_back(span);
        break;
      case OpTag::local:
        break;
    }
  }
  const std::vector<Interval> busy = merged(std::move(kernels));
  for (const auto& b : busy) out.busy_ns += b.second - b.first;
  for (const auto& c : merged(comms)) out.exposed_comm_ns += idle_part(busy, c.first, c.second);
  for (const auto& c : merged(std::move(collectives))) out.exposed_collective_ns += idle_part(busy, c.first, c.second);

  if (comm != nullptr) {
    std::map<std::pair<GroupKind, std::string>, plan::CommSummary> table_of;
    for (std::size_t i = 0; i < n; ++i) {
      const OpTag tag = table.tag[i];
      if (tag != OpTag::collective && tag != OpTag::send && tag != OpTag::recv) continue;
      const CommInfo& c = table.comm[i];
      const std::string type = tag == OpTag::collective ? std::string(to_string(c.type))
                               : tag == OpTag::send     ? "send"
                                                        : "recv";
      auto& s = table_of[{c.kind, type}];
      s.group = c.kind;
      s.type = type;
      ++s.count;
      s.bytes += c.bytes;
      s.time_s += static_cast<double>(end_ns[i] - start_ns[i]) * 1e-9;
      s.exposed_s += static_cast<double>(idle_part(busy, start_ns[i], end_ns[i])) * 1e-9;
    }
    comm->clear();
    for (auto& [key, s] : table_of) comm->push_back(std::move(s));
  }
  return out;
}

}  // namespace clustersim::engine::detail
