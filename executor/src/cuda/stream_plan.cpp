// Enqueue order, pruned cross-stream waits and grouped point-to-point runs of a program
// (cuda/stream_plan.hpp).
#include "clustersim/executor/cuda/stream_plan.hpp"

#include <algorithm>
#include <queue>
#include <string>

#include "clustersim/plan/error.hpp"

namespace clustersim::executor::cuda {

namespace {

bool is_p2p(const plan::Op& op) {
  return op.kind == OpKind::send || op.kind == OpKind::recv;
}

GroupKind p2p_group(const plan::Op& op) {
  return std::get<plan::P2PParams>(op.params).group;
}

}  // namespace

StreamSchedule schedule_streams(const plan::Program& program, const StreamScheduleOptions& options) {
  const auto& ops = program.ops;
  const std::size_t n = ops.size();
  std::size_t n_streams = program.streams.size();
  for (const auto& op : ops) n_streams = std::max(n_streams, static_cast<std::size_t>(op.stream) + 1);

  // stream position of each op, and each stream's ops
  std::vector<std::vector<plan::OpId>> stream_ops(n_streams);
  std::vector<std::int64_t> position(n, 0);
  for (const auto& op : ops) {
    auto& list = stream_ops[static_cast<std::size_t>(op.stream)];
    position[static_cast<std::size_t>(op.id)] = static_cast<std::int64_t>(list.size());
    list.push_back(op.id);
  }

  // Kahn's algorithm, smallest op id first: program order when it is topological.
  std::vector<std::int32_t> indegree(n, 0);
  std::vector<std::vector<plan::OpId>> next(n);
  for (const auto& op : ops) {
    const auto i = static_cast<std::size_t>(op.id);
    const std::int64_t pos = position[i];
    if (pos > 0) {
      const plan::OpId prev = stream_ops[static_cast<std::size_t>(op.stream)][static_cast<std::size_t>(pos - 1)];
      next[static_cast<std::size_t>(prev)].push_back(op.id);
      ++indegree[i];
    }
    for (plan::OpId d : op.deps) {
      require(d >= 0 && static_cast<std::size_t>(d) < n, "op " + op.name + " depends on a missing op");
      if (ops[static_cast<std::size_t>(d)].stream == op.stream) continue;  // implied by stream order
      next[static_cast<std::size_t>(d)].push_back(op.id);
      ++indegree[i];
    }
  }
  StreamSchedule s;
  s.order.reserve(n);
  std::priority_queue<plan::OpId, std::vector<plan::OpId>, std::greater<>> ready;
  for (std::size_t i = 0; i < n; ++i)
    if (indegree[i] == 0) ready.push(static_cast<plan::OpId>(i));
  while (!ready.empty()) {
    const plan::OpId id = ready.top();
    ready.pop();
    s.order.push_back(id);
    for (plan::OpId m : next[static_cast<std::size_t>(id)])
      if (--indegree[static_cast<std::size_t>(m)] == 0) ready.push(m);
  }
  if (s.order.size() != n) {
    for (std::size_t i = 0; i < n; ++i)
      if (indegree[i] > 0)
        throw InternalError("internal error: program " + program.name + " has a cycle of stream order and deps through op " +
                            std::to_string(i) + " (" + ops[i].name + ")");
  }

  // Vector clocks: known[s][t] = highest position on stream t known complete when stream s reaches
  // its next op; at[op] = the clock of the op's stream just after the op.
  std::vector<std::vector<std::int64_t>> known(n_streams, std::vector<std::int64_t>(n_streams, -1));
  std::vector<std::vector<std::int64_t>> at(n);
  s.waits.assign(n, {});
  s.records.assign(n, false);
  for (plan::OpId id : s.order) {
    const plan::Op& op = ops[static_cast<std::size_t>(id)];
    const auto st = static_cast<std::size_t>(op.stream);
    // deps on other streams, minus those the stream already knows complete
    std::vector<plan::OpId> deps;
    for (plan::OpId d : op.deps) {
      const auto& dop = ops[static_cast<std::size_t>(d)];
      if (dop.stream == op.stream || std::find(deps.begin(), deps.end(), d) != deps.end()) continue;
      if (known[st][static_cast<std::size_t>(dop.stream)] >= position[static_cast<std::size_t>(d)]) {
        ++s.dropped_waits;
        continue;
      }
      deps.push_back(d);
    }
    // minus those another dep implies (its stream had reached or waited for them)
    for (plan::OpId d : deps) {
      const auto ds = static_cast<std::size_t>(ops[static_cast<std::size_t>(d)].stream);
      bool implied = false;
      for (plan::OpId e : deps)
        if (e != d && at[static_cast<std::size_t>(e)][ds] >= position[static_cast<std::size_t>(d)]) implied = true;
      if (implied) {
        ++s.dropped_waits;
        continue;
      }
      s.waits[static_cast<std::size_t>(id)].push_back(d);
      s.records[static_cast<std::size_t>(d)] = true;
    }
    for (plan::OpId d : s.waits[static_cast<std::size_t>(id)]) {
      const auto& clock = at[static_cast<std::size_t>(d)];
      for (std::size_t t = 0; t < n_streams; ++t) known[st][t] = std::max(known[st][t], clock[t]);
    }
    known[st][st] = position[static_cast<std::size_t>(id)];
    at[static_cast<std::size_t>(id)] = known[st];
  }

  // Point-to-point runs.
  s.p2p_run.assign(n, -1);
  if (options.group_p2p) {
    std::vector<std::int64_t> enqueued_at(n, 0);
    for (std::size_t k = 0; k < s.order.size(); ++k) enqueued_at[static_cast<std::size_t>(s.order[k])] = static_cast<std::int64_t>(k);
    for (const auto& list : stream_ops) {
      std::size_t i = 0;
      while (i < list.size()) {
        const plan::Op& first = ops[static_cast<std::size_t>(list[i])];
        if (!is_p2p(first)) {
          ++i;
          continue;
        }
        const std::int64_t first_at = enqueued_at[static_cast<std::size_t>(first.id)];
        auto deps_before = [&](const plan::Op& op) {
          for (plan::OpId d : op.deps)
            if (ops[static_cast<std::size_t>(d)].stream != op.stream && enqueued_at[static_cast<std::size_t>(d)] >= first_at)
              return false;
          return true;
        };
        std::size_t j = i;
        std::vector<plan::OpId> run;
        while (j < list.size()) {
          const plan::Op& op = ops[static_cast<std::size_t>(list[j])];
          if (!is_p2p(op) || p2p_group(op) != p2p_group(first) || !deps_before(op)) break;
          run.push_back(op.id);
          ++j;
        }
        if (run.size() >= 2) {
          const auto index = static_cast<std::int32_t>(s.p2p_runs.size());
          for (plan::OpId id : run) s.p2p_run[static_cast<std::size_t>(id)] = index;
          s.p2p_runs.push_back(run);
        }
        i = std::max(j, i + 1);
      }
    }
  }
  return s;
}

}  // namespace clustersim::executor::cuda
