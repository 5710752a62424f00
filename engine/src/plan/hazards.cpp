// Cross-stream hazard check with per-op vector clocks; see hazards.hpp.
#include "clustersim/plan/hazards.hpp"

#include <algorithm>
#include <map>

namespace clustersim::plan {

StorageRange storage_range(const plan::Plan& plan, const plan::RankGroups& groups, plan::Rank rank, plan::TensorId id) {
  const plan::Tensor& t = plan.tensors.at(static_cast<std::size_t>(id));
  if (t.view_of == plan::kNone) return {id, 0, t.bytes};
  std::int64_t off = t.offset_bytes;
  if (t.shard_group) off += static_cast<std::int64_t>(groups.index_in_group(rank, *t.shard_group)) * t.bytes;
  return {t.view_of, off, off + t.bytes};
}

namespace {

struct Access {
  plan::OpId op;
  std::int64_t begin, end;
  bool write;
};

}  // namespace

std::vector<std::string> find_stream_hazards(const plan::Plan& plan, const plan::RankGroups& groups, plan::Rank rank,
                                             std::int32_t program, std::size_t max_reports) {
  const plan::Program& prog = plan.programs.at(static_cast<std::size_t>(program));
  const std::size_t n_streams = prog.streams.size(), n_ops = prog.ops.size();
  // clock[op][s] = 1 + position (in stream s) of the latest op of s that happens before or is `op`
  std::vector<std::vector<std::int32_t>> clock(n_ops, std::vector<std::int32_t>(n_streams, 0));
  std::vector<std::int32_t> position(n_ops, 0), last_on_stream(n_streams, -1), count(n_streams, 0);
  for (const auto& op : prog.ops) {
    const auto i = static_cast<std::size_t>(op.id);
    const auto s = static_cast<std::size_t>(op.stream);
    auto& c = clock[i];
    if (last_on_stream[s] >= 0) c = clock[static_cast<std::size_t>(last_on_stream[s])];
    for (plan::OpId d : op.deps)
      for (std::size_t k = 0; k < n_streams; ++k) c[k] = std::max(c[k], clock[static_cast<std::size_t>(d)][k]);
    position[i] = count[s]++;
    c[s] = position[i] + 1;
    last_on_stream[s] = op.id;
  }
  auto before = [&](plan::OpId a, plan::OpId b) {  // a happens before b (or a == b)
    const auto& pa = prog.ops[static_cast<std::size_t>(a)];
    return clock[static_cast<std::size_t>(b)][static_cast<std::size_t>(pa.stream)] >
           position[static_cast<std::size_t>(a)];
  };
  auto name = [&](plan::OpId o) {
    const auto& op = prog.ops[static_cast<std::size_t>(o)];
    return "op " + std::to_string(o) + " (" + op.name + ", stream " +
           prog.streams[static_cast<std::size_t>(op.stream)].name + ")";
  };
  std::vector<std::string> out;
  std::map<plan::TensorId, std::vector<Access>> accesses;  // per storage base, in program order
  constexpr std::size_t kLookBack = 256;
  auto check = [&](plan::OpId me, const StorageRange& r, bool write, const char* what) {
    auto& list = accesses[r.base];
    const std::size_t first = list.size() > kLookBack ? list.size() - kLookBack : 0;
    for (std::size_t k = list.size(); k-- > first && out.size() < max_reports;) {
      const Access& a = list[k];
      if (a.op == me || a.end <= r.begin || r.end <= a.begin || (!a.write && !write)) continue;
      if (before(a.op, me)) continue;
      const std::string tensor = plan.tensors[static_cast<std::size_t>(r.base)].name;
      out.push_back(name(me) + " " + what + " " + tensor + " [" + std::to_string(r.begin) + ", " +
                    std::to_string(r.end) + ") which " + name(a.op) + (a.write ? " writes" : " reads") +
                    ", with no dependency between them");
    }
    list.push_back({me, r.begin, r.end, write});
  };
  for (const auto& op : prog.ops) {
    if (out.size() >= max_reports) break;
    // in-place collectives write the buffer they list as their input
    bool writes_inputs = false;
    if (op.kind == OpKind::collective) {
      const auto type = std::get<plan::CollectiveParams>(op.params).type;
      writes_inputs =
          type == CollectiveType::all_reduce || type == CollectiveType::broadcast || type == CollectiveType::reduce;
    }
    for (plan::TensorId t : op.inputs)
      check(op.id, storage_range(plan, groups, rank, t), writes_inputs, writes_inputs ? "updates" : "reads");
    for (plan::TensorId t : op.outputs) check(op.id, storage_range(plan, groups, rank, t), true, "writes");
    for (plan::TensorId t : op.frees) {
      // a free must come after every earlier use of the storage
      const StorageRange r{t, 0, plan.tensors[static_cast<std::size_t>(t)].bytes};
      check(op.id, r, true, "frees");
      accesses.erase(t);  // a later allocation starts a new life
    }
  }
  return out;
}

}  // namespace clustersim::plan
