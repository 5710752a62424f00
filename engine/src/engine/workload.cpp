// The workload layer: program tables, op readiness, collective rendezvous and p2p matching (see
// workload.hpp and the execution semantics in simulate.hpp).
#include "workload.hpp"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "clustersim/plan/error.hpp"

namespace clustersim::engine::detail {

namespace {

// Token layout: bits 60..61 say what completed; ops carry (slot, op), collectives their
// rendezvous, transfers (channel, message).
constexpr Token kCollectiveToken = Token{1} << 60;
constexpr Token kTransferToken = Token{2} << 60;
constexpr Token kDispatchToken = Token{3} << 60;  // | op token: the op's host dispatch time is over
constexpr Token kIdMask = (Token{1} << 60) - 1;

OpTag tag_of(OpKind kind) {
  switch (kind) {
    case OpKind::collective:
      return OpTag::collective;
    case OpKind::send:
      return OpTag::send;
    case OpKind::recv:
      return OpTag::recv;
    case OpKind::io:
    case OpKind::delay:
      return OpTag::local;
    default:
      return OpTag::kernel;
  }
}

}  // namespace

OpTable build_op_table(const plan::Plan& plan, std::int32_t program, const CostModel& cost, FallbackLog& fallbacks) {
  const plan::Program& prog = plan.programs.at(static_cast<std::size_t>(program));
  const auto n = prog.ops.size();
  OpTable t;
  t.program = program;
  t.streams = static_cast<std::int32_t>(prog.streams.size());
  t.tag.resize(n);
  t.stream.resize(n);
  t.cost_ns.assign(n, 0);
  t.dispatch_ns.assign(n, 0);
  t.wake_ns = cost.wake_ns();
  t.initial_pending.assign(n, 0);
  t.comm.resize(n);
  t.p2p_ordinal.assign(n, -1);
  t.comm_ordinal.assign(n, -1);

  std::vector<std::int32_t> count(n, 0);
  std::vector<std::int32_t> last_on_stream(prog.streams.size(), -1);
  std::vector<std::int32_t> stream_prev(n, -1);
  for (std::size_t i = 0; i < n; ++i) {
    const plan::Op& op = prog.ops[i];
    auto& last = last_on_stream[static_cast<std::size_t>(op.stream)];
    stream_prev[i] = last;
    if (last >= 0) ++count[static_cast<std::size_t>(last)], ++t.initial_pending[i];
    last = static_cast<std::int32_t>(i);
    for (plan::OpId d : op.deps) ++count[static_cast<std::size_t>(d)], ++t.initial_pending[i];
  }
  t.succ_offset.assign(n + 1, 0);
  for (std::size_t i = 0; i < n; ++i) t.succ_offset[i + 1] = t.succ_offset[i] + count[i];
  t.succ.resize(static_cast<std::size_t>(t.succ_offset[n]));
  std::vector<std::int32_t> fill(t.succ_offset.begin(), t.succ_offset.end() - 1);
  for (std::size_t i = 0; i < n; ++i) {
    if (stream_prev[i] >= 0)
      t.succ[static_cast<std::size_t>(fill[static_cast<std::size_t>(stream_prev[i])]++)] = static_cast<std::int32_t>(i);
    for (plan::OpId d : prog.ops[i].deps)
      t.succ[static_cast<std::size_t>(fill[static_cast<std::size_t>(d)]++)] = static_cast<std::int32_t>(i);
  }

  auto use_of = [&](plan::TensorId id) {
    const plan::Tensor& tensor = plan.tensors[static_cast<std::size_t>(id)];
    return TensorUse{tensor.view_of == plan::kNone ? tensor.bytes : 0, tensor.role};
  };
  t.alloc_offset.assign(n + 1, 0);
  t.free_offset.assign(n + 1, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const plan::Op& op = prog.ops[i];
    t.tag[i] = tag_of(op.kind);
    t.stream[i] = op.stream;
    t.dispatch_ns[i] = cost.dispatch_ns(plan, op);
    for (plan::TensorId a : op.allocs) t.allocs.push_back(use_of(a));
    for (plan::TensorId f : op.frees) t.frees.push_back(use_of(f));
    t.alloc_offset[i + 1] = static_cast<std::int32_t>(t.allocs.size());
    t.free_offset[i + 1] = static_cast<std::int32_t>(t.frees.size());
    switch (t.tag[i]) {
      case OpTag::kernel:
      case OpTag::local: {
        OpCost c = cost.op_cost(plan, op);
        if (c.time_ns < 0) [[unlikely]]
          throw InternalError("internal error: negative op time for " + op.name);
        t.cost_ns[i] = c.time_ns;
        if (!c.fallback.empty()) {
          auto& entry = fallbacks[c.fallback];
          if (entry.first++ == 0) entry.second = prog.name + ": " + op.name;
        }
        break;
      }
      case OpTag::collective: {
        const auto& p = std::get<plan::CollectiveParams>(op.params);
        t.comm[i] = {p.type, p.group, 0, 0, p.bytes, p.dtype};
        t.comm_ordinal[i] = t.comm_count++;
        // Groups of one kind have one size in the plans the builder makes: the first one's.
        const auto g = std::find_if(plan.groups.begin(), plan.groups.end(),
                                    [&](const plan::Group& x) { return x.kind == p.group; });
        if (g != plan.groups.end()) {
          auto delay =
              cost.collective_idle_delay(p.type, static_cast<std::int32_t>(g->ranks.size()), p.bytes, p.dtype);
          if (!delay.empty()) {
            t.comm[i].idle_delay = static_cast<std::int32_t>(t.idle_delays.size());
            t.idle_delays.push_back(std::move(delay));
          }
        }
        break;
      }
      case OpTag::send:
      case OpTag::recv: {
        const auto& p = std::get<plan::P2PParams>(op.params);
        t.comm[i] = {CollectiveType::all_reduce, p.group, p.peer_offset, p.tag, p.bytes};
        t.p2p_ordinal[i] = t.p2p_count++;
        t.comm_ordinal[i] = t.comm_count++;
        break;
      }
    }
  }
  for (plan::TensorId id : prog.persistent) {
    t.persistent.push_back(use_of(id));
    t.persistent_bytes += t.persistent.back().bytes;
  }
  return t;
}

Workload::Workload(const plan::Plan& plan, const plan::RankGroups& groups, const RankClasses& classes,
                   const std::vector<const OpTable*>& table_of_program, const std::vector<double>& straggler,
                   std::int32_t timeline_samples, ComputeModel& compute, NetworkModel& network,
                   double busy_delay_ns, PollSchedule poll, std::vector<plan::IdleDelaySample> idle_delay)
    : plan_(plan),
      compute_(compute),
      network_(network),
      busy_delay_ns_(busy_delay_ns),
      poll_(poll),
      idle_delay_(std::move(idle_delay)) {
  const auto n_slots = classes.simulated.size();
  slots_.reserve(n_slots);
  std::int64_t ops = 0, p2p = 0, comm = 0;
  for (std::size_t s = 0; s < n_slots; ++s) {
    Slot slot{.held = {}, .memory = MemoryTracker(timeline_samples)};
    slot.rank = classes.simulated[s];
    slot.program = plan.program_of_rank[static_cast<std::size_t>(slot.rank)];
    slot.table = table_of_program[static_cast<std::size_t>(slot.program)];
    require(slot.table != nullptr, "no op table for program " + std::to_string(slot.program));
    slot.base = ops;
    slot.p2p_base = p2p;
    slot.comm_base = comm;
    slot.straggler = straggler[static_cast<std::size_t>(slot.rank)];
    slot.vgroup.fill(-1);
    ops += static_cast<std::int64_t>(slot.table->tag.size());
    p2p += slot.table->p2p_count;
    comm += slot.table->comm_count;
    slots_.push_back(std::move(slot));
  }
  pending_.resize(static_cast<std::size_t>(ops));
  const bool collective_idle =
      std::any_of(slots_.begin(), slots_.end(), [](const Slot& x) { return !x.table->idle_delays.empty(); });
  if (busy_delay_ns_ > 0.0 || poll_.first_ns > 0.0 || !idle_delay_.empty() || collective_idle) {
    held_.assign(static_cast<std::size_t>(ops), kNotHeld);
    partner_.assign(static_cast<std::size_t>(ops), -1);
  }
  start_.assign(static_cast<std::size_t>(ops), -1);
  end_.assign(static_cast<std::size_t>(ops), -1);
  transfer_start_.assign(static_cast<std::size_t>(comm), -1);
  woken_.assign(static_cast<std::size_t>(ops), 0);
  for (const Slot& slot : slots_)
    std::copy(slot.table->initial_pending.begin(), slot.table->initial_pending.end(), pending_.begin() + slot.base);

  // Rendezvous points: per slot and collective group kind, the slots of the group's members (worked
  // out once per group; in symmetric mode groups with the same member classes share one).
  std::map<std::pair<GroupKind, std::vector<std::int32_t>>, std::int32_t> vgroup_ids;
  std::vector<std::int32_t> vgroup_of_group(plan.groups.size(), -1);
  for (std::size_t s = 0; s < n_slots; ++s) {
    Slot& slot = slots_[s];
    const OpTable& t = *slot.table;
    for (std::size_t i = 0; i < t.tag.size(); ++i) {
      if (t.tag[i] != OpTag::collective) continue;
      const GroupKind kind = t.comm[i].kind;
      auto& vg = slot.vgroup[static_cast<std::size_t>(kind)];
      if (vg >= 0) continue;
      const std::int32_t g = groups.group_of(slot.rank, kind);
      if (g == plan::kNone)
        throw InternalError("rank " + std::to_string(slot.rank) + " issues a collective on its " +
                            std::string(to_string(kind)) + " group (op " +
                            op_name(static_cast<std::int32_t>(s), static_cast<std::int32_t>(i)) +
                            ") but belongs to no " + std::string(to_string(kind)) + " group");
      if (vgroup_of_group[static_cast<std::size_t>(g)] >= 0) {
        vg = vgroup_of_group[static_cast<std::size_t>(g)];
        continue;
      }
      std::vector<std::int32_t> members;
      for (plan::Rank m : plan.groups[static_cast<std::size_t>(g)].ranks)
        members.push_back(classes.slot_of_rank[static_cast<std::size_t>(m)]);
      std::sort(members.begin(), members.end());
      members.erase(std::unique(members.begin(), members.end()), members.end());
      const auto [it, inserted] =
          vgroup_ids.emplace(std::make_pair(kind, members), static_cast<std::int32_t>(vgroups_.size()));
      if (inserted) {
        VirtualGroup v;
        v.group_id = g;
        v.kind = kind;
        v.needed = static_cast<std::int32_t>(members.size());
        v.arrivals_offset = static_cast<std::int64_t>(arrivals_.size());
        arrivals_.resize(arrivals_.size() + members.size(), -1);
        vgroups_.push_back(v);
        vgroup_members_.push_back(members);
      }
      vg = it->second;
      vgroup_of_group[static_cast<std::size_t>(g)] = vg;
    }
  }
  for (std::size_t v = 0; v < vgroups_.size(); ++v)
    for (std::int32_t m : vgroup_members_[v]) {
      const std::int32_t other = slots_[static_cast<std::size_t>(m)].vgroup[static_cast<std::size_t>(vgroups_[v].kind)];
      require(other == -1 || other == static_cast<std::int32_t>(v), "inconsistent symmetric rank classes");
    }

  // P2P channels: the k-th send a->b with tag g (program order) meets the k-th recv on b from a
  // with tag g.
  p2p_channel_.assign(static_cast<std::size_t>(p2p), -1);
  p2p_message_.assign(static_cast<std::size_t>(p2p), -1);
  p2p_peer_.assign(static_cast<std::size_t>(p2p), plan::kNone);
  std::map<std::tuple<std::int32_t, std::int32_t, std::int32_t>, std::int32_t> channel_ids;
  std::vector<std::int64_t> sends, recvs;
  for (std::size_t s = 0; s < n_slots; ++s) {
    const Slot& slot = slots_[s];
    const OpTable& t = *slot.table;
    for (std::size_t i = 0; i < t.tag.size(); ++i) {
      if (t.tag[i] != OpTag::send && t.tag[i] != OpTag::recv) continue;
      const plan::Rank peer = p2p_peer(plan, groups, slot.rank, t.comm[i].kind, t.comm[i].peer_offset);
      if (peer == plan::kNone)
        throw InternalError("rank " + std::to_string(slot.rank) + " op " +
                            op_name(static_cast<std::int32_t>(s), static_cast<std::int32_t>(i)) +
                            " sends or receives over its " + std::string(to_string(t.comm[i].kind)) +
                            " group but belongs to no such group");
      const std::int32_t peer_slot = classes.slot_of_rank[static_cast<std::size_t>(peer)];
      const bool send = t.tag[i] == OpTag::send;
      const auto self = static_cast<std::int32_t>(s);
      const auto key =
          send ? std::make_tuple(self, peer_slot, t.comm[i].tag) : std::make_tuple(peer_slot, self, t.comm[i].tag);
      const auto [it, inserted] = channel_ids.emplace(key, static_cast<std::int32_t>(channels_.size()));
      if (inserted) {
        channels_.push_back(Channel{std::get<0>(key), std::get<1>(key), std::get<2>(key), 0, 0});
        sends.push_back(0);
        recvs.push_back(0);
      }
      const auto c = static_cast<std::size_t>(it->second);
      const auto inst = static_cast<std::size_t>(slot.p2p_base + t.p2p_ordinal[i]);
      p2p_channel_[inst] = it->second;
      p2p_message_[inst] = send ? sends[c]++ : recvs[c]++;
      p2p_peer_[inst] = peer;
    }
  }
  std::int64_t messages = 0;
  for (std::size_t c = 0; c < channels_.size(); ++c) {
    if (sends[c] != recvs[c])
      throw InternalError("rank " + std::to_string(rank_of_slot(channels_[c].from)) + " sends " +
                          std::to_string(sends[c]) + " messages with tag " + std::to_string(channels_[c].tag) +
                          " to rank " + std::to_string(rank_of_slot(channels_[c].to)) + ", which receives " +
                          std::to_string(recvs[c]) + " from it");
    channels_[c].offset = messages;
    channels_[c].messages = sends[c];
    messages += sends[c];
  }
  channel_send_.assign(static_cast<std::size_t>(messages), -1);
  channel_recv_.assign(static_cast<std::size_t>(messages), -1);
  ready_.reserve(1024);
}

std::int32_t Workload::group_of_slot(std::int32_t slot, GroupKind kind) const {
  const std::int32_t v = slots_[static_cast<std::size_t>(slot)].vgroup[static_cast<std::size_t>(kind)];
  return v < 0 ? plan::kNone : vgroups_[static_cast<std::size_t>(v)].group_id;
}

std::string Workload::op_name(std::int32_t slot, std::int32_t op) const {
  const auto& prog = plan_.programs[static_cast<std::size_t>(slots_[static_cast<std::size_t>(slot)].program)];
  return std::to_string(op) + " (" + prog.ops[static_cast<std::size_t>(op)].name + ")";
}

void Workload::start() {
  for (std::size_t s = 0; s < slots_.size(); ++s) {
    Slot& slot = slots_[s];
    for (const TensorUse& u : slot.table->persistent)
      if (u.bytes > 0) slot.memory.change(0, u.role, u.bytes);
    slot.memory.sample(0);
    const auto n = static_cast<std::int32_t>(slot.table->tag.size());
    for (std::int32_t op = 0; op < n; ++op)
      if (pending_[static_cast<std::size_t>(slot.base + op)] == 0)
        ready_.push_back(op_token(static_cast<std::int32_t>(s), op));
  }
  for (std::size_t i = 0; i < ready_.size(); ++i)
    begin(0, static_cast<std::int32_t>(ready_[i] >> 32), static_cast<std::int32_t>(ready_[i] & 0xffffffff));
  ready_.clear();
}

void Workload::handle(TimeNs now_ns, const std::vector<Token>& completed) {
  for (const Token token : completed) {
    if (token >= kDispatchToken) {
      const Token op = token & kIdMask;
      start_op(now_ns, static_cast<std::int32_t>(op >> 32), static_cast<std::int32_t>(op & 0xffffffff));
    } else if (token < kCollectiveToken) {
      const auto s = static_cast<std::int32_t>(token >> 32), op = static_cast<std::int32_t>(token & 0xffffffff);
      Slot& slot = slots_[static_cast<std::size_t>(s)];
      if (!held_.empty()) {
        std::uint8_t& h = held_[static_cast<std::size_t>(slot.base + op)];
        if (h == kPollHeld) {  // its thread's poll saw it done
          h = kNotHeld;
          complete_held(now_ns, s, op);
          continue;
        }
        if (h == kReleased) {  // finished early, when its rank stopped computing
          h = kNotHeld;
          continue;
        }
        if (h == kHeld) {
          h = kNotHeld;
          slot.held.erase(std::find(slot.held.begin(), slot.held.end(), op));
          if (slot.held.empty()) held_slots_.erase(std::find(held_slots_.begin(), held_slots_.end(), s));
          complete_held(now_ns, s, op);
          continue;
        }
      }
      finish(now_ns, s, op);
    } else if (token < kTransferToken) {
      VirtualGroup& vg = vgroups_[static_cast<std::size_t>(token & kIdMask)];
      for (std::int32_t i = 0; i < vg.arrived; ++i) {
        const Token op = arrivals_[static_cast<std::size_t>(vg.arrivals_offset + i)];
        const auto slot = static_cast<std::int32_t>(op >> 32);
        compute_.transfer_finished(now_ns, slot);
        if (vg.idle_extra_ns > 0) {  // held as a late poll: not slowed, not slowing
          const auto o = static_cast<std::int32_t>(op & 0xffffffff);
          held_[static_cast<std::size_t>(slots_[static_cast<std::size_t>(slot)].base + o)] = kPollHeld;
          compute_.start(now_ns, slot, static_cast<double>(vg.idle_extra_ns), false, op_token(slot, o));
          continue;
        }
        finish(now_ns, slot, static_cast<std::int32_t>(op & 0xffffffff));
      }
      vg.arrived = 0;
      ++vg.completed;
    } else {
      const auto id = token & kIdMask;
      const Channel& ch = channels_[static_cast<std::size_t>(id >> 32)];
      const auto m = static_cast<std::size_t>(ch.offset + (id & 0xffffffff));
      // The receiver moves the data (a rendezvous): while it computes, or until its thread polls,
      // the sender waits with it. The side that posted first waited, and is seen done at a poll.
      const Token send = channel_send_[m], recv = channel_recv_[m];
      const auto rs = static_cast<std::int32_t>(recv >> 32), ro = static_cast<std::int32_t>(recv & 0xffffffff);
      const auto ss = static_cast<std::int32_t>(send >> 32), so = static_cast<std::int32_t>(send & 0xffffffff);
      const TimeNs r_post = start_[static_cast<std::size_t>(slots_[static_cast<std::size_t>(rs)].base + ro)];
      const TimeNs s_post = start_[static_cast<std::size_t>(slots_[static_cast<std::size_t>(ss)].base + so)];
      // A receive posted first waited; its rank may have gone cold meanwhile (idle_delay_).
      std::int64_t late = 0;
      if (r_post < s_post) {
        const std::int64_t cold = idle_delay_ns(rs, s_post);
        late = cold + poll_late_ns(rs, now_ns + cold, r_post);
        // The receiver moves the data after the poll that saw the send; while its rank computes,
        // the move shares the core and takes the busy-core delay longer.
        if (late > 0 && slots_[static_cast<std::size_t>(rs)].kernels_running > 0)
          late += static_cast<std::int64_t>(std::llround(busy_delay_ns_));
      }
      if (transfer_done(now_ns, rs, ro, late)) {
        partner_[static_cast<std::size_t>(slots_[static_cast<std::size_t>(rs)].base + ro)] = send;
      } else {
        transfer_done(now_ns, ss, so, s_post < r_post ? poll_late_ns(ss, now_ns, s_post) : 0);
      }
    }
  }
  for (std::size_t i = 0; i < ready_.size(); ++i)
    begin(now_ns, static_cast<std::int32_t>(ready_[i] >> 32), static_cast<std::int32_t>(ready_[i] & 0xffffffff));
  ready_.clear();
  if (!held_slots_.empty()) release_held(now_ns);
}

std::pair<double, double> Workload::backed_off_interval(double origin, double t) const {
  const double over = poll_.overshoot_ns;
  double at = origin, sleep = poll_.first_ns, before = origin;
  while (at < t && sleep < poll_.cap_ns) {
    before = at;
    at += sleep + over;
    sleep = std::min(poll_.cap_ns, 2.0 * sleep);
  }
  if (at < t) {
    const double step = poll_.cap_ns + over;
    at += std::ceil((t - at) / step) * step;
    before = at - step;
  }
  return std::pair{before, at};
}

void Workload::busy_start(TimeNs now_ns, Slot& slot) const {
  if (poll_.first_ns <= 0.0) {
    slot.busy_since = now_ns;
    return;
  }
  const auto idle = static_cast<double>(slot.idle_since);
  const auto [a, b] = backed_off_interval(static_cast<double>(slot.busy_since), idle);
  const double period = std::max(b - a, poll_.first_ns + poll_.overshoot_ns);
  if (static_cast<double>(now_ns) - idle >= period) slot.busy_since = now_ns;
}

std::int64_t Workload::poll_late_ns(std::int32_t s, TimeNs now_ns, TimeNs posted_ns) const {
  if (poll_.first_ns <= 0.0 || posted_ns < 0 || now_ns <= posted_ns) return 0;
  const double over = poll_.overshoot_ns;
  // Where in its interval the event lands is not in the plan: it is set by the other side's
  // timeline, and a few per cent of jitter over the milliseconds before it spans the whole
  // interval. So the wait is the expected one, half the interval (a uniform phase).
  const auto expected_wait = [](std::pair<double, double> interval) { return (interval.second - interval.first) / 2.0; };
  const Slot& slot = slots_[static_cast<std::size_t>(s)];
  const auto now = static_cast<double>(now_ns), posted = static_cast<double>(posted_ns);
  // Backing off since the rank started computing (polling every first before).
  const double origin = std::max(posted, static_cast<double>(slot.busy_since));
  const auto idle = static_cast<double>(slot.idle_since);
  const double idle_step = poll_.first_ns + over;
  double wait = 0.0;
  if (slot.kernels_running > 0)
    wait = expected_wait(backed_off_interval(origin, now));
  else if (idle <= posted)  // every first since the post, the rank idle throughout
    wait = idle_step / 2.0;
  else  // on the back-off grid up to its first poll after the stop, every first from there
    wait = backed_off_interval(origin, idle).second >= now ? expected_wait(backed_off_interval(origin, now))
                                                           : idle_step / 2.0;
  return static_cast<std::int64_t>(std::llround(wait));
}

std::int64_t Workload::idle_delay_ns(std::int32_t s, TimeNs send_post_ns) const {
  const Slot& slot = slots_[static_cast<std::size_t>(s)];
  if (idle_delay_.empty() || slot.kernels_running > 0 || slot.idle_since > send_post_ns) return 0;
  return static_cast<std::int64_t>(
      std::llround(plan::idle_delay_ns(idle_delay_, static_cast<double>(send_post_ns - slot.idle_since))));
}

bool Workload::transfer_done(TimeNs now_ns, std::int32_t s, std::int32_t op, std::int64_t poll_late) {
  compute_.transfer_finished(now_ns, s);
  Slot& slot = slots_[static_cast<std::size_t>(s)];
  if (poll_late > 0) {
    held_[static_cast<std::size_t>(slot.base + op)] = kPollHeld;
    compute_.start(now_ns, s, static_cast<double>(poll_late), false, op_token(s, op));
    return true;
  }
  if (busy_delay_ns_ > 0.0 && slot.kernels_running > 0) {
    held_[static_cast<std::size_t>(slot.base + op)] = kHeld;
    if (slot.held.empty()) held_slots_.push_back(s);
    slot.held.push_back(op);
    compute_.start(now_ns, s, busy_delay_ns_, false, op_token(s, op));
    return true;
  }
  finish(now_ns, s, op);
  return false;
}

void Workload::complete_held(TimeNs now_ns, std::int32_t s, std::int32_t op) {
  finish(now_ns, s, op);
  Token& partner = partner_[static_cast<std::size_t>(slots_[static_cast<std::size_t>(s)].base + op)];
  if (partner < 0) return;
  const Token send = partner;
  partner = -1;
  // The sender learns of the receiver's completion at its own next poll.
  const auto ss = static_cast<std::int32_t>(send >> 32), so = static_cast<std::int32_t>(send & 0xffffffff);
  transfer_done(now_ns, ss, so,
                poll_late_ns(ss, now_ns, start_[static_cast<std::size_t>(slots_[static_cast<std::size_t>(ss)].base + so)]));
}

void Workload::release_held(TimeNs now_ns) {
  while (true) {
    bool released = false;
    for (std::size_t i = 0; i < held_slots_.size();) {
      const std::int32_t s = held_slots_[i];
      Slot& slot = slots_[static_cast<std::size_t>(s)];
      if (slot.kernels_running > 0) {
        ++i;
        continue;
      }
      // The rank stopped computing: its polling thread has the core.
      const std::vector<std::int32_t> ops = std::move(slot.held);
      slot.held.clear();
      held_slots_[i] = held_slots_.back();
      held_slots_.pop_back();
      for (const std::int32_t op : ops) {
        held_[static_cast<std::size_t>(slot.base + op)] = kReleased;
        complete_held(now_ns, s, op);
      }
      released = true;
    }
    if (!released) return;
    for (std::size_t i = 0; i < ready_.size(); ++i)
      begin(now_ns, static_cast<std::int32_t>(ready_[i] >> 32), static_cast<std::int32_t>(ready_[i] & 0xffffffff));
    ready_.clear();
  }
}

void Workload::finish(TimeNs now_ns, std::int32_t s, std::int32_t op) {
  Slot& slot = slots_[static_cast<std::size_t>(s)];
  const OpTable& t = *slot.table;
  if (t.tag[static_cast<std::size_t>(op)] == OpTag::kernel && --slot.kernels_running == 0) slot.idle_since = now_ns;
  end_[static_cast<std::size_t>(slot.base + op)] = now_ns;
  ++finished_;
  const auto f0 = t.free_offset[static_cast<std::size_t>(op)], f1 = t.free_offset[static_cast<std::size_t>(op) + 1];
  if (f1 > f0) {
    for (auto i = f0; i < f1; ++i) {
      const TensorUse& u = t.frees[static_cast<std::size_t>(i)];
      if (u.bytes > 0) slot.memory.change(now_ns, u.role, -u.bytes);
    }
    slot.memory.sample(now_ns);
  }
  const auto s0 = t.succ_offset[static_cast<std::size_t>(op)], s1 = t.succ_offset[static_cast<std::size_t>(op) + 1];
  for (auto i = s0; i < s1; ++i) {
    const std::int32_t next = t.succ[static_cast<std::size_t>(i)];
    if (--pending_[static_cast<std::size_t>(slot.base + next)] == 0) {
      woken_[static_cast<std::size_t>(slot.base + next)] =
          t.stream[static_cast<std::size_t>(op)] != t.stream[static_cast<std::size_t>(next)];
      ready_.push_back(op_token(s, next));
    }
  }
}

void Workload::begin(TimeNs now_ns, std::int32_t s, std::int32_t op) {
  Slot& slot = slots_[static_cast<std::size_t>(s)];
  const OpTable& t = *slot.table;
  // The rank computes from here (its host dispatch included) to the kernel's end.
  if (t.tag[static_cast<std::size_t>(op)] == OpTag::kernel && slot.kernels_running++ == 0) busy_start(now_ns, slot);
  const std::int64_t delay =
      t.dispatch_ns[static_cast<std::size_t>(op)] + (woken_[static_cast<std::size_t>(slot.base + op)] ? t.wake_ns : 0);
  if (delay > 0) {
    compute_.start(now_ns, s, static_cast<double>(delay), false, kDispatchToken | op_token(s, op));
    return;
  }
  start_op(now_ns, s, op);
}

void Workload::start_op(TimeNs now_ns, std::int32_t s, std::int32_t op) {
  Slot& slot = slots_[static_cast<std::size_t>(s)];
  const OpTable& t = *slot.table;
  start_[static_cast<std::size_t>(slot.base + op)] = now_ns;
  const auto a0 = t.alloc_offset[static_cast<std::size_t>(op)], a1 = t.alloc_offset[static_cast<std::size_t>(op) + 1];
  if (a1 > a0) {
    for (auto i = a0; i < a1; ++i) {
      const TensorUse& u = t.allocs[static_cast<std::size_t>(i)];
      if (u.bytes > 0) slot.memory.change(now_ns, u.role, u.bytes);
    }
    slot.memory.sample(now_ns);
  }
  switch (t.tag[static_cast<std::size_t>(op)]) {
    case OpTag::kernel: {
      const double work = static_cast<double>(t.cost_ns[static_cast<std::size_t>(op)]) * slot.straggler;
      compute_.start(now_ns, s, work, true, op_token(s, op));
      break;
    }
    case OpTag::local:
      compute_.start(now_ns, s, static_cast<double>(t.cost_ns[static_cast<std::size_t>(op)]), false, op_token(s, op));
      break;
    case OpTag::collective:
      arrive(now_ns, s, op);
      break;
    case OpTag::send:
    case OpTag::recv:
      post(now_ns, s, op);
      break;
  }
}

void Workload::arrive(TimeNs now_ns, std::int32_t s, std::int32_t op) {
  Slot& slot = slots_[static_cast<std::size_t>(s)];
  const CommInfo& c = slot.table->comm[static_cast<std::size_t>(op)];
  const auto v = slot.vgroup[static_cast<std::size_t>(c.kind)];
  VirtualGroup& vg = vgroups_[static_cast<std::size_t>(v)];
  auto& issued = slot.collectives[static_cast<std::size_t>(c.kind)];
  if (issued != vg.completed)
    throw InternalError("rank " + std::to_string(slot.rank) + " reached its collective #" + std::to_string(issued) +
                        " on its " + std::string(to_string(c.kind)) + " group (op " + op_name(s, op) + ") while #" +
                        std::to_string(vg.completed) +
                        " is still open: collectives on one group kind must be issued from one stream");
  ++issued;
  if (vg.arrived == 0) {
    vg.type = c.type;
    vg.bytes = c.bytes;
    vg.dtype = c.dtype;
  } else if (vg.type != c.type || vg.bytes != c.bytes) {
    const Token first = arrivals_[static_cast<std::size_t>(vg.arrivals_offset)];
    const auto fs = static_cast<std::int32_t>(first >> 32);
    throw InternalError("collective mismatch on the " + std::string(to_string(c.kind)) + " group: rank " +
                        std::to_string(rank_of_slot(fs)) + " op " +
                        op_name(fs, static_cast<std::int32_t>(first & 0xffffffff)) + " is " +
                        std::string(to_string(vg.type)) + " of " + std::to_string(vg.bytes) + " bytes, rank " +
                        std::to_string(slot.rank) + " op " + op_name(s, op) + " is " + std::string(to_string(c.type)) +
                        " of " + std::to_string(c.bytes) + " bytes");
  }
  arrivals_[static_cast<std::size_t>(vg.arrivals_offset + vg.arrived++)] = op_token(s, op);
  if (vg.arrived < vg.needed) return;
  // A member that arrived first and ran no kernel since makes the whole collective slower, by the
  // longest such idling (CostModel::collective_idle_delay).
  vg.idle_extra_ns = 0;
  if (c.idle_delay >= 0) {
    TimeNs idle = 0;
    for (std::int32_t i = 0; i < vg.arrived; ++i) {
      const Slot& m = slots_[static_cast<std::size_t>(arrivals_[static_cast<std::size_t>(vg.arrivals_offset + i)] >> 32)];
      if (m.kernels_running == 0) idle = std::max(idle, now_ns - m.idle_since);
    }
    vg.idle_extra_ns = static_cast<std::int64_t>(std::llround(
        plan::idle_delay_ns(slot.table->idle_delays[static_cast<std::size_t>(c.idle_delay)], static_cast<double>(idle))));
  }
  network_.start_collective(now_ns, vg.type, vg.group_id, vg.bytes, vg.dtype, kCollectiveToken | v);
  for (std::int32_t i = 0; i < vg.arrived; ++i) {
    const Token member = arrivals_[static_cast<std::size_t>(vg.arrivals_offset + i)];
    mark_transfer(now_ns, static_cast<std::int32_t>(member >> 32), static_cast<std::int32_t>(member & 0xffffffff));
  }
}

void Workload::post(TimeNs now_ns, std::int32_t s, std::int32_t op) {
  const Slot& slot = slots_[static_cast<std::size_t>(s)];
  const OpTable& t = *slot.table;
  const auto inst = static_cast<std::size_t>(slot.p2p_base + t.p2p_ordinal[static_cast<std::size_t>(op)]);
  const auto c = p2p_channel_[inst];
  const std::int64_t k = p2p_message_[inst];
  const Channel& ch = channels_[static_cast<std::size_t>(c)];
  const auto m = static_cast<std::size_t>(ch.offset + k);
  const bool send = t.tag[static_cast<std::size_t>(op)] == OpTag::send;
  (send ? channel_send_ : channel_recv_)[m] = op_token(s, op);
  if (channel_send_[m] < 0 || channel_recv_[m] < 0) return;

  // Both sides posted: the transfer starts, timed from the sender to its real peer.
  const Token send_op = channel_send_[m], recv_op = channel_recv_[m];
  const auto ss = static_cast<std::int32_t>(send_op >> 32), rs = static_cast<std::int32_t>(recv_op >> 32);
  const auto so = static_cast<std::int32_t>(send_op & 0xffffffff), ro = static_cast<std::int32_t>(recv_op & 0xffffffff);
  const Slot& sender = slots_[static_cast<std::size_t>(ss)];
  const Slot& receiver = slots_[static_cast<std::size_t>(rs)];
  const CommInfo& sc = sender.table->comm[static_cast<std::size_t>(so)];
  const CommInfo& rc = receiver.table->comm[static_cast<std::size_t>(ro)];
  if (sc.bytes != rc.bytes)
    throw InternalError("message #" + std::to_string(k) + " from rank " + std::to_string(sender.rank) + " to rank " +
                        std::to_string(receiver.rank) + ": send op " + op_name(ss, so) + " has " +
                        std::to_string(sc.bytes) + " bytes, recv op " + op_name(rs, ro) + " expects " +
                        std::to_string(rc.bytes));
  const plan::Rank peer =
      p2p_peer_[static_cast<std::size_t>(sender.p2p_base + sender.table->p2p_ordinal[static_cast<std::size_t>(so)])];
  network_.start_p2p(now_ns, sender.rank, peer, sc.kind, sc.bytes, kTransferToken | (static_cast<Token>(c) << 32) | k);
  mark_transfer(now_ns, ss, so);
  mark_transfer(now_ns, rs, ro);
}

void Workload::mark_transfer(TimeNs now_ns, std::int32_t s, std::int32_t op) {
  const Slot& slot = slots_[static_cast<std::size_t>(s)];
  transfer_start_[static_cast<std::size_t>(slot.comm_base + slot.table->comm_ordinal[static_cast<std::size_t>(op)])] =
      now_ns;
  compute_.transfer_started(now_ns, s);
}

std::string Workload::describe_stuck(std::size_t max_items) const {
  std::string out;
  std::size_t items = 0;
  for (std::size_t s = 0; s < slots_.size() && items < max_items; ++s) {
    const Slot& slot = slots_[s];
    const OpTable& t = *slot.table;
    for (std::size_t op = 0; op < t.tag.size() && items < max_items; ++op) {
      const auto inst = static_cast<std::size_t>(slot.base) + op;
      if (start_[inst] < 0 || end_[inst] >= 0) continue;  // not started, or finished
      const auto o = static_cast<std::int32_t>(op);
      const auto si = static_cast<std::int32_t>(s);
      std::string line = "rank " + std::to_string(slot.rank) + " op " + op_name(si, o);
      if (t.tag[op] == OpTag::collective) {
        const auto v = static_cast<std::size_t>(slot.vgroup[static_cast<std::size_t>(t.comm[op].kind)]);
        const VirtualGroup& vg = vgroups_[v];
        std::string missing;
        for (std::int32_t m : vgroup_members_[v]) {
          bool arrived = false;
          for (std::int32_t i = 0; i < vg.arrived; ++i)
            arrived |=
                static_cast<std::int32_t>(arrivals_[static_cast<std::size_t>(vg.arrivals_offset + i)] >> 32) == m;
          if (!arrived) missing += (missing.empty() ? "" : ", ") + std::to_string(rank_of_slot(m));
        }
        line += " waits in " + std::string(to_string(t.comm[op].type)) + " #" + std::to_string(vg.completed) +
                " on its " + std::string(to_string(t.comm[op].kind)) + " group for rank(s) " + missing;
      } else if (t.tag[op] == OpTag::send || t.tag[op] == OpTag::recv) {
        const auto p = static_cast<std::size_t>(slot.p2p_base + t.p2p_ordinal[op]);
        line += std::string(t.tag[op] == OpTag::send ? " (send to rank " : " (recv from rank ") +
                std::to_string(p2p_peer_[p]) + ", message #" + std::to_string(p2p_message_[p]) +
                ") waits for its matching " + (t.tag[op] == OpTag::send ? "recv" : "send");
      } else {
        line += " never finished";
      }
      out += (out.empty() ? "" : "; ") + line;
      ++items;
    }
  }
  if (out.empty()) out = "no op is in flight: dependencies form a cycle";
  return out;
}

}  // namespace clustersim::engine::detail
