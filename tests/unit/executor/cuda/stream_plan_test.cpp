// Tests for cuda/stream_plan.hpp: the enqueue order, the pruned cross-stream event waits (vector
// clocks), which ops record events, point-to-point grouping and cycle detection, on hand-built
// programs, without a device.
#include <gtest/gtest.h>

#include "clustersim/executor/cuda/stream_plan.hpp"
#include "clustersim/plan/error.hpp"

namespace clustersim::executor::cuda {
namespace {

struct ProgramBuilder {
  plan::Program p;
  explicit ProgramBuilder(int streams) {
    for (int s = 0; s < streams; ++s)
      p.streams.push_back({static_cast<plan::StreamId>(s), "s" + std::to_string(s),
                           s == 0 ? StreamKind::compute : StreamKind::comm});
  }
  plan::OpId op(int stream, std::vector<plan::OpId> deps = {}, OpKind kind = OpKind::delay) {
    plan::Op o;
    o.id = static_cast<plan::OpId>(p.ops.size());
    o.name = "op" + std::to_string(o.id);
    o.stream = static_cast<plan::StreamId>(stream);
    o.kind = kind;
    if (kind == OpKind::send || kind == OpKind::recv)
      o.params = plan::P2PParams{};
    else
      o.params = plan::DelayParams{};
    o.deps = std::move(deps);
    p.ops.push_back(o);
    return o.id;
  }
};

TEST(StreamSchedule, ProgramOrderWhenItIsTopological) {
  ProgramBuilder b(2);
  const auto a = b.op(0), c = b.op(1, {a}), d = b.op(0), e = b.op(0, {c});
  const StreamSchedule s = schedule_streams(b.p);
  EXPECT_EQ(s.order, (std::vector<plan::OpId>{a, c, d, e}));
  EXPECT_EQ(s.waits[static_cast<std::size_t>(c)], (std::vector<plan::OpId>{a}));
  EXPECT_EQ(s.waits[static_cast<std::size_t>(e)], (std::vector<plan::OpId>{c}));
  EXPECT_TRUE(s.records[static_cast<std::size_t>(a)]);
  EXPECT_TRUE(s.records[static_cast<std::size_t>(c)]);
  EXPECT_FALSE(s.records[static_cast<std::size_t>(d)]);
  EXPECT_FALSE(s.records[static_cast<std::size_t>(e)]);
}

TEST(StreamSchedule, SameStreamDepsAreImpliedByStreamOrder) {
  ProgramBuilder b(1);
  const auto a = b.op(0), c = b.op(0, {a});
  const StreamSchedule s = schedule_streams(b.p);
  EXPECT_TRUE(s.waits[static_cast<std::size_t>(c)].empty());
  EXPECT_FALSE(s.records[static_cast<std::size_t>(a)]);
}

TEST(StreamSchedule, RedundantWaitsAreDropped) {
  // stream 1 waits for a2 (which follows a1 on stream 0): a later dep on a1 is implied;
  // stream 2 waits for x on stream 1, which had waited for a2: a dep on a1 or a2 is implied too.
  ProgramBuilder b(3);
  const auto a1 = b.op(0), a2 = b.op(0);
  const auto x = b.op(1, {a2});
  const auto y = b.op(1, {a1});
  const auto z = b.op(2, {x, a1, a2});
  const StreamSchedule s = schedule_streams(b.p);
  EXPECT_EQ(s.waits[static_cast<std::size_t>(x)], (std::vector<plan::OpId>{a2}));
  EXPECT_TRUE(s.waits[static_cast<std::size_t>(y)].empty());
  EXPECT_EQ(s.waits[static_cast<std::size_t>(z)], (std::vector<plan::OpId>{x}));
  EXPECT_EQ(s.dropped_waits, 3);
  EXPECT_FALSE(s.records[static_cast<std::size_t>(a1)]);
}

TEST(StreamSchedule, OnlyTheLatestDepPerStreamIsWaitedFor) {
  ProgramBuilder b(2);
  const auto a1 = b.op(0), a2 = b.op(0), a3 = b.op(0);
  const auto x = b.op(1, {a1, a3, a2});
  const StreamSchedule s = schedule_streams(b.p);
  EXPECT_EQ(s.waits[static_cast<std::size_t>(x)], (std::vector<plan::OpId>{a3}));
}

TEST(StreamSchedule, DepsOnLaterOpsGiveATopologicalOrder) {
  ProgramBuilder b(2);
  const auto a = b.op(0, {2});  // waits for op 2 on stream 1
  const auto c = b.op(0);
  const auto d = b.op(1);
  const StreamSchedule s = schedule_streams(b.p);
  EXPECT_EQ(s.order, (std::vector<plan::OpId>{d, a, c}));
  EXPECT_EQ(s.waits[static_cast<std::size_t>(a)], (std::vector<plan::OpId>{d}));
}

TEST(StreamSchedule, CyclesAreRefused) {
  ProgramBuilder b(2);
  b.op(0, {1});
  b.op(1, {0});
  EXPECT_THROW(schedule_streams(b.p), InternalError);
}

TEST(StreamSchedule, ConsecutivePointToPointOpsAreGrouped) {
  ProgramBuilder b(2);
  const auto f = b.op(0);
  const auto send = b.op(1, {f}, OpKind::send);
  const auto recv = b.op(1, {f}, OpKind::recv);
  const auto g = b.op(0, {recv});
  const auto send2 = b.op(1, {g}, OpKind::send);  // its dep is enqueued after the run started
  const StreamSchedule s = schedule_streams(b.p);
  ASSERT_EQ(s.p2p_runs.size(), 1u);
  EXPECT_EQ(s.p2p_runs[0], (std::vector<plan::OpId>{send, recv}));
  EXPECT_EQ(s.p2p_run[static_cast<std::size_t>(send)], 0);
  EXPECT_EQ(s.p2p_run[static_cast<std::size_t>(recv)], 0);
  EXPECT_EQ(s.p2p_run[static_cast<std::size_t>(send2)], -1);
  StreamScheduleOptions off;
  off.group_p2p = false;
  EXPECT_TRUE(schedule_streams(b.p, off).p2p_runs.empty());
}

TEST(StreamSchedule, AMemberWaitingOnWorkAfterTheRunStartsIsNotGrouped) {
  ProgramBuilder b(2);
  const auto send = b.op(1, {}, OpKind::send);
  const auto c = b.op(0);
  const auto recv = b.op(1, {c}, OpKind::recv);  // c is enqueued after send
  const StreamSchedule s = schedule_streams(b.p);
  EXPECT_TRUE(s.p2p_runs.empty());
  EXPECT_EQ(s.p2p_run[static_cast<std::size_t>(send)], -1);
  EXPECT_EQ(s.p2p_run[static_cast<std::size_t>(recv)], -1);
}

}  // namespace
}  // namespace clustersim::executor::cuda
