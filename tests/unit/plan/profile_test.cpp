// Tests of the calibration profile schema (profile.hpp): JSON round trip, strict reading with JSON
// paths, and the memory-op keys that the calibrate command and the calibrated cost model share.
#include <gtest/gtest.h>

#include "clustersim/plan/profile.hpp"

namespace clustersim::plan {
namespace {

using nlohmann::json;

CalibrationProfile sample_profile() {
  CalibrationProfile p;
  p.backend = "cuda", p.device = "NVIDIA H100", p.created = "2026-01-01T00:00:00Z";
  p.gemm = {{DType::bf16, 1024, 2048, 512, 12345.5}, {DType::fp32, 64, 64, 64, 900.0}};
  p.attention = {{DType::bf16, 2, 16, 4, 2048, 128, true, true, Direction::backward, 4.5e5}};
  p.memory["elementwise:gelu"] = {{1 << 20, 5000.0}, {1 << 24, 60000.0}};
  p.memory["memory"] = {{4096, 3000.0}};
  p.collectives = {{CollectiveType::all_gather, 8, 1 << 20, 20000.0, Placement::inter, DType::fp32,
                    {{500'000.0, 0.0}, {2e6, 12'000.0}}}};
  p.collectives.push_back({CollectiveType::all_reduce, 2, 1 << 20, 9000.0, Placement::intra, DType::bf16, {}});
  p.p2p = {{1 << 16, 4000.0}};
  p.ops = {{"gemm{...}|in:fp32[4,4];fp32[4,4];|out:fp32[4,4];", "qkv", 1234.5}};
  p.host.dispatch_ns = 75.0, p.host.wake_ns = 4100.0;
  p.host.alloc = {{4096, 3500.0}, {1 << 20, 70'000.0}};
  p.host.poll = {10'000.0, 200'000.0, 17'000.0};
  p.rank_compute_factor = {1.07, 0.93};
  p.rank_compute_factor_samples = {{1.1, 0.9}, {1.04, 0.96}};
  p.overlap_compute_slowdown = 1.15;
  p.overlap_comm_busy_delay_ns = 3.5e6;
  p.overlap_comm_idle_delay = {{500'000.0, 3'000.0}, {5e6, 47'000.0}};
  p.probe = MachineProbe{1 << 20, 250e3, 380e3};
  p.kernel_overhead_ns = 2500.0;
  return p;
}

TEST(Profile, RoundTripKeepsEveryField) {
  const json j = to_json(sample_profile());
  EXPECT_EQ(j["schema"], kProfileSchema);
  EXPECT_EQ(j["overlap"]["compute_slowdown"], 1.15);
  EXPECT_EQ(j["overlap"]["comm_busy_delay_ns"], 3.5e6);
  EXPECT_EQ(j["probe"]["all_reduce_ns"], 250e3);
  const CalibrationProfile back = profile_from_json(j);
  EXPECT_EQ(to_json(back), j);
  EXPECT_EQ(back.attention[0].kv_heads, 4);
  EXPECT_EQ(back.attention[0].direction, Direction::backward);
  EXPECT_EQ(back.collectives[0].placement, Placement::inter);
  EXPECT_DOUBLE_EQ(back.gemm[0].time_ns, 12345.5);
  EXPECT_EQ(back.memory.at("elementwise:gelu").size(), 2u);
  EXPECT_DOUBLE_EQ(back.kernel_overhead_ns, 2500.0);
  EXPECT_EQ(back.collectives[0].dtype, DType::fp32);
  EXPECT_EQ(back.collectives[1].dtype, DType::bf16);
  ASSERT_EQ(back.collectives[0].idle_delay.size(), 2u);
  EXPECT_DOUBLE_EQ(back.collectives[0].idle_delay[1].delay_ns, 12'000.0);
  EXPECT_TRUE(back.collectives[1].idle_delay.empty());
  EXPECT_FALSE(j["collectives"][1].contains("idle_delay"));
  ASSERT_EQ(back.ops.size(), 1u);
  EXPECT_EQ(back.ops[0].example, "qkv");
  EXPECT_DOUBLE_EQ(back.ops[0].time_ns, 1234.5);
  EXPECT_DOUBLE_EQ(back.host.wake_ns, 4100.0);
  EXPECT_DOUBLE_EQ(back.host.poll.first_ns, 10'000.0);
  EXPECT_DOUBLE_EQ(back.host.poll.cap_ns, 200'000.0);
  EXPECT_DOUBLE_EQ(back.host.poll.overshoot_ns, 17'000.0);
  ASSERT_EQ(back.overlap_comm_idle_delay.size(), 2u);
  EXPECT_DOUBLE_EQ(back.overlap_comm_idle_delay[1].idle_ns, 5e6);
  EXPECT_DOUBLE_EQ(back.overlap_comm_idle_delay[1].delay_ns, 47'000.0);
  EXPECT_EQ(back.host.alloc.size(), 2u);
  EXPECT_EQ(back.rank_compute_factor, (std::vector<double>{1.07, 0.93}));
  EXPECT_EQ(back.rank_compute_factor_samples.size(), 2u);
}

void expect_error_at(json j, const std::string& path) {
  try {
    profile_from_json(j);
    ADD_FAILURE() << "expected InputError at " << path;
  } catch (const InputError& e) {
    EXPECT_EQ(e.json_path(), path) << e.what();
  }
}

TEST(Profile, StrictReaderNamesThePath) {
  json j = to_json(sample_profile());
  j["schema"] = "clustersim.profile/2";
  expect_error_at(j, "schema");
  j = to_json(sample_profile());
  j["backend"] = "tpu";
  expect_error_at(j, "backend");
  j = to_json(sample_profile());
  j["gemm"][1]["time_ns"] = 0;
  expect_error_at(j, "gemm[1].time_ns");
  j = to_json(sample_profile());
  j["memory"]["elementwise:gelu"][0]["bytes"] = -5;
  expect_error_at(j, "memory.elementwise:gelu[0].bytes");
  j = to_json(sample_profile());
  j["collectives"][0]["placement"] = "rack";
  expect_error_at(j, "collectives[0].placement");
  j = to_json(sample_profile());
  j["collectives"][0]["idle_delay"][1]["idle_ns"] = 100.0;  // not after the sample before
  expect_error_at(j, "collectives[0].idle_delay[1].idle_ns");
  j = to_json(sample_profile());
  j["collectives"][0]["idle_delay"][0]["delay_ns"] = -1.0;
  expect_error_at(j, "collectives[0].idle_delay[0].delay_ns");
  j = to_json(sample_profile());
  j["collectives"][0]["idle_delay"] = 5;
  expect_error_at(j, "collectives[0].idle_delay");
  j = to_json(sample_profile());
  j["overlap"]["compute_slowdown"] = 0.5;  // must be >= 1
  expect_error_at(j, "overlap.compute_slowdown");
  j = to_json(sample_profile());
  j["overlap"]["comm_busy_delay_ns"] = -1.0;  // must be >= 0
  expect_error_at(j, "overlap.comm_busy_delay_ns");
  j = to_json(sample_profile());
  j["overlap"]["comm_idle_delay"][1]["idle_ns"] = 100'000.0;  // not after the sample before
  expect_error_at(j, "overlap.comm_idle_delay[1].idle_ns");
  j = to_json(sample_profile());
  j["overlap"]["comm_idle_delay"][0]["delay_ns"] = -2.0;
  expect_error_at(j, "overlap.comm_idle_delay[0].delay_ns");
  j = to_json(sample_profile());
  j["probe"].erase("gemm_ns");
  expect_error_at(j, "probe.gemm_ns");
  j = to_json(sample_profile());
  j["host"]["poll_cap_ns"] = 5'000.0;  // below poll_first_ns
  expect_error_at(j, "host.poll_cap_ns");
  j = to_json(sample_profile());
  j["host"]["poll_cap_ns"] = 0.0;  // a first sleep without a cap
  expect_error_at(j, "host.poll_cap_ns");
  j = to_json(sample_profile());
  j["host"]["poll_overshoot_ns"] = -1.0;  // a sleep never ends early
  expect_error_at(j, "host.poll_overshoot_ns");
  j = to_json(sample_profile());
  j["gemms"] = json::array();
  expect_error_at(j, "gemms");
  j = to_json(sample_profile());
  j["collectives"][1]["dtype"] = "fp12";
  expect_error_at(j, "collectives[1].dtype");
  j = to_json(sample_profile());
  j["ops"][0]["signature"] = "";
  expect_error_at(j, "ops[0].signature");
  j = to_json(sample_profile());
  j["ops"][0]["time_ns"] = -1.0;
  expect_error_at(j, "ops[0].time_ns");
  j = to_json(sample_profile());
  j["host"]["wake_ns"] = -3.0;
  expect_error_at(j, "host.wake_ns");
  j = to_json(sample_profile());
  j["host"]["alloc"][1]["bytes"] = 0;
  expect_error_at(j, "host.alloc[1].bytes");
  j = to_json(sample_profile());
  j["rank_compute_factor"][1] = 0.0;
  expect_error_at(j, "rank_compute_factor[1]");
  j = to_json(sample_profile());
  j["rank_compute_factor_samples"][1] = {1.0, 1.0, 1.0};  // not as many ranks as the first sample
  expect_error_at(j, "rank_compute_factor_samples[1]");
  j = to_json(sample_profile());
  j["rank_compute_factor_samples"][0][1] = -1.0;
  expect_error_at(j, "rank_compute_factor_samples[0][1]");
}

// An op's signature says which kernel runs on how much data: ops of two layers with the same shapes
// share one; any change of a parameter, a tensor's dtype or shape, or in-place aliasing makes another.
TEST(Profile, OpSignatureIdentifiesTheKernelAndItsData) {
  Plan p;
  auto tensor = [&](DType d, std::vector<std::int64_t> shape) {
    Tensor t;
    t.id = static_cast<TensorId>(p.tensors.size()), t.dtype = d, t.shape = shape;
    t.bytes = t.elements() * dtype_bytes(d);
    p.tensors.push_back(t);
    return t.id;
  };
  const TensorId a = tensor(DType::fp32, {64, 32}), b = tensor(DType::fp32, {32, 16}), c = tensor(DType::fp32, {64, 16});
  const TensorId a2 = tensor(DType::fp32, {64, 32}), b2 = tensor(DType::fp32, {32, 16}), c2 = tensor(DType::fp32, {64, 16});
  const TensorId a16 = tensor(DType::bf16, {64, 32});
  auto gemm = [](std::int64_t m, std::vector<TensorId> in, std::vector<TensorId> out) {
    Op op;
    op.kind = OpKind::gemm;
    GemmParams g;
    g.m = m, g.n = 16, g.k = 32;
    op.params = g;
    op.inputs = std::move(in), op.outputs = std::move(out);
    return op;
  };
  const std::string layer0 = op_signature(p, gemm(64, {a, b}, {c}));
  EXPECT_FALSE(layer0.empty());
  EXPECT_EQ(op_signature(p, gemm(64, {a2, b2}, {c2})), layer0);  // another layer, same shapes
  EXPECT_NE(op_signature(p, gemm(32, {a, b}, {c})), layer0);     // a parameter
  EXPECT_NE(op_signature(p, gemm(64, {a16, b}, {c})), layer0);   // an operand's dtype
  EXPECT_NE(op_signature(p, gemm(64, {a, b}, {a})), layer0);     // the output shape (and in place)
  EXPECT_NE(op_signature(p, gemm(64, {a, b}, {a})).find("=in0"), std::string::npos);
  Op ar;
  ar.kind = OpKind::collective;
  ar.params = CollectiveParams{};
  EXPECT_EQ(op_signature(p, ar), "");  // the network model times communication
}

TEST(Profile, OptionalSectionsDefault) {
  const json j = {{"schema", kProfileSchema},
                  {"backend", "cpu"},
                  {"device", "x"},
                  {"gemm", json::array()},
                  {"memory", json::object()}};
  const CalibrationProfile p = profile_from_json(j);
  EXPECT_TRUE(p.attention.empty());
  EXPECT_TRUE(p.collectives.empty());
  EXPECT_DOUBLE_EQ(p.overlap_compute_slowdown, 1.0);
  EXPECT_DOUBLE_EQ(p.kernel_overhead_ns, 0.0);
}

TEST(Profile, CalibrationKeysAndTheirLookupChain) {
  Op norm;
  norm.kind = OpKind::norm;
  NormParams n;
  n.type = NormType::layernorm, n.direction = Direction::forward;
  norm.params = n;
  EXPECT_EQ(calibration_key(norm), "norm:layernorm:forward");
  EXPECT_EQ(calibration_key_chain(norm),
            (std::vector<std::string>{"norm:layernorm:forward", "norm:layernorm", "norm", "memory"}));
  Op gelu;
  gelu.kind = OpKind::elementwise;
  ElementwiseParams e;
  e.name = "gelu";
  gelu.params = e;
  EXPECT_EQ(calibration_key_chain(gelu), (std::vector<std::string>{"elementwise:gelu", "elementwise", "memory"}));
  Op cast;
  cast.kind = OpKind::cast;
  cast.params = CastParams{};
  EXPECT_EQ(calibration_key_chain(cast), (std::vector<std::string>{"cast", "memory"}));
  Op adam;
  adam.kind = OpKind::optimizer;
  adam.params = OptimizerParams{};
  EXPECT_EQ(calibration_key(adam), "optimizer:adamw");
  Op xent;
  xent.kind = OpKind::softmax_xent;
  xent.params = SoftmaxXentParams{};
  EXPECT_EQ(calibration_key(xent), "softmax_xent:forward");
  Op emb;
  emb.kind = OpKind::embedding;
  emb.params = EmbeddingParams{};
  EXPECT_EQ(calibration_key(emb), "embedding:forward");
  Op gemm;
  gemm.kind = OpKind::gemm;
  gemm.params = GemmParams{};
  EXPECT_EQ(calibration_key(gemm), "");
  EXPECT_TRUE(calibration_key_chain(gemm).empty());
}

// With the plan, a memory-bound op's chain starts with its storage dtype's key unless that is fp32;
// the dtype is the first floating-point input's (integer token ids do not count).
TEST(Profile, KeyChainOfAPlanOpStartsWithItsStorageDtype) {
  Plan p;
  for (DType d : {DType::int32, DType::bf16, DType::fp32}) {
    Tensor t;
    t.id = static_cast<TensorId>(p.tensors.size()), t.dtype = d;
    p.tensors.push_back(t);
  }
  Op emb;
  emb.kind = OpKind::embedding;
  emb.params = EmbeddingParams{};
  emb.inputs = {0, 1};
  EXPECT_EQ(memory_op_dtype(p, emb), DType::bf16);
  EXPECT_EQ(calibration_key_chain(p, emb),
            (std::vector<std::string>{"embedding:forward@bf16", "embedding:forward", "embedding", "memory"}));
  Op gelu;
  gelu.kind = OpKind::elementwise;
  ElementwiseParams e;
  e.name = "gelu";
  gelu.params = e;
  gelu.inputs = {2};
  EXPECT_EQ(calibration_key_chain(p, gelu), calibration_key_chain(gelu));
  gelu.inputs = {};
  gelu.outputs = {1};
  EXPECT_EQ(calibration_key_chain(p, gelu).front(), "elementwise:gelu@bf16");
  Op gemm;
  gemm.kind = OpKind::gemm;
  gemm.params = GemmParams{};
  gemm.inputs = {1};
  EXPECT_TRUE(calibration_key_chain(p, gemm).empty());
}

}  // namespace
}  // namespace clustersim::plan
