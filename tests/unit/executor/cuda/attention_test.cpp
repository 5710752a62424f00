// Device tests of cuda/attention.hpp against cpu/attention.hpp on the same (rounded) inputs: flash
// forward and backward, causal and bidirectional, grouped-query heads, sequence-parallel row order,
// dropout with tensor-parallel head offsets, head dimensions on and off the tensor-core path, fp32,
// bf16 and fp16 storage, and the non-flash variant whose probabilities and dropout mask are stored
// (the mask bit for bit). Label gpu.
#include <gtest/gtest.h>

#include "clustersim/executor/cpu/attention.hpp"
#include "clustersim/executor/cuda/attention.hpp"
#include "clustersim/executor/rng.hpp"
#include "cuda_test_util.hpp"

namespace clustersim::executor::cuda {
namespace {

using executor::test::random_floats;
using test::DeviceBuffer;
using test::expect_close;
using test::rounded;

struct Config {
  std::int64_t batch, heads, kv_heads, seq, head_dim;
  bool causal;
  float dropout;
  std::int64_t shards;
  DType dtype;
};

std::string describe(const Config& c) {
  return "B" + std::to_string(c.batch) + " H" + std::to_string(c.heads) + "/" + std::to_string(c.kv_heads) + " T" +
         std::to_string(c.seq) + " D" + std::to_string(c.head_dim) + (c.causal ? " causal" : "") + " p" +
         std::to_string(c.dropout) + " shards " + std::to_string(c.shards) + " " + std::string(to_string(c.dtype));
}

cpu::AttentionShape shape_of(const Config& c) {
  return {.batch = c.batch,
          .heads = c.heads,
          .kv_heads = c.kv_heads,
          .seq = c.seq,
          .head_dim = c.head_dim,
          .causal = c.causal,
          .dropout = c.dropout,
          .dropout_key = derive_key(5, 77),
          .heads_total = c.heads * 2,  // this rank holds the second half of the heads
          .head_offset = c.heads,
          .seq_shards = c.shards};
}

void check_flash(const Config& c) {
  SCOPED_TRACE(describe(c));
  const cpu::AttentionShape s = shape_of(c);
  const std::int64_t rows = c.batch * c.seq, nq = rows * s.qkv_width(), no = rows * c.heads * c.head_dim;
  const std::int64_t nl = c.batch * c.heads * c.seq;
  const auto qkv = rounded(random_floats(static_cast<std::size_t>(nq), 31, -1.5f, 1.5f), c.dtype);
  const auto dout = rounded(random_floats(static_cast<std::size_t>(no), 32), c.dtype);
  std::vector<float> ro(no), rl(nl), rdq(nq);
  cpu::attention_forward_flash(ro.data(), rl.data(), qkv.data(), s);
  DeviceBuffer dqkv(qkv, c.dtype), out(no, c.dtype), lse(nl, DType::fp32), ddout(dout, c.dtype), grad(nq, c.dtype);
  test::TestScratch scratch;
  attention_forward_flash(out.t(), lse.f(), dqkv.c(), s, scratch, nullptr);
  expect_close(out.download(), rounded(ro, c.dtype), c.dtype, "out");
  expect_close(lse.download(), rl, DType::fp32, "lse", c.dtype == DType::fp32 ? 1.0 : 50.0);
  // backward from the CPU's forward results (rounded like the device's storage)
  const auto ro_r = rounded(ro, c.dtype);
  out.upload(ro_r);
  lse.upload(rl);
  attention_backward_flash(grad.t(), ddout.c(), dqkv.c(), out.c(), lse.f(), s, scratch, nullptr);
  cpu::attention_backward_flash(rdq.data(), dout.data(), qkv.data(), ro_r.data(), rl.data(), s);
  expect_close(grad.download(), rounded(rdq, c.dtype), c.dtype, "dqkv", c.dtype == DType::fp32 ? 5.0 : 1.5);
}

TEST(CudaAttention, FlashMatchesTheCpuOnTheTensorCorePath) {
  CLUSTERSIM_REQUIRE_CUDA();
  for (DType d : {DType::bf16, DType::fp16}) {
    check_flash({2, 4, 4, 96, 64, true, 0.0f, 1, d});
    check_flash({1, 8, 2, 130, 128, true, 0.0f, 1, d});  // GQA 4:1, a ragged last tile
    check_flash({2, 2, 2, 64, 32, false, 0.0f, 1, d});
    check_flash({2, 4, 2, 64, 64, true, 0.0f, 2, d});  // shard-major rows
    check_flash({1, 2, 1, 80, 16, true, 0.1f, 1, d});  // dropout
  }
}

TEST(CudaAttention, FlashMatchesTheCpuInFp32AndOddHeadDims) {
  CLUSTERSIM_REQUIRE_CUDA();
  check_flash({2, 4, 2, 70, 64, true, 0.0f, 1, DType::fp32});
  check_flash({1, 3, 3, 33, 24, false, 0.0f, 1, DType::fp32});
  check_flash({1, 2, 2, 40, 20, true, 0.2f, 2, DType::fp32});
  check_flash({1, 2, 1, 48, 24, true, 0.0f, 1, DType::bf16});  // 24 is no multiple of 16: fp32 arithmetic
}

TEST(CudaAttention, StoredProbabilitiesAndMasksMatchTheCpu) {
  CLUSTERSIM_REQUIRE_CUDA();
  for (const Config& c : {Config{2, 2, 1, 50, 32, true, 0.1f, 1, DType::fp32},
                          Config{1, 4, 4, 64, 64, false, 0.0f, 2, DType::bf16},
                          Config{1, 2, 2, 48, 32, true, 0.25f, 1, DType::bf16}}) {
    SCOPED_TRACE(describe(c));
    const cpu::AttentionShape s = shape_of(c);
    const bool dropout = c.dropout > 0.0f;
    const std::int64_t rows = c.batch * c.seq, nq = rows * s.qkv_width(), no = rows * c.heads * c.head_dim;
    const std::int64_t np = c.batch * c.heads * c.seq * c.seq;
    const auto qkv = rounded(random_floats(static_cast<std::size_t>(nq), 41), c.dtype);
    const auto dout = rounded(random_floats(static_cast<std::size_t>(no), 42), c.dtype);
    std::vector<float> ro(no), rp(np), rd(np), rdq(nq);
    std::vector<std::uint8_t> rm(np);
    cpu::attention_forward(ro.data(), rp.data(), dropout ? rm.data() : nullptr, dropout ? rd.data() : nullptr,
                           qkv.data(), s);
    DeviceBuffer dqkv(qkv, c.dtype), out(no, c.dtype), probs(np, c.dtype), mask(np, DType::uint8),
        dropped(np, c.dtype), ddout(dout, c.dtype), grad(nq, c.dtype);
    test::TestScratch scratch;
    attention_forward(out.t(), probs.t(), dropout ? mask.u8() : nullptr, dropout ? dropped.t() : DeviceTensor{},
                      dqkv.c(), s, scratch, nullptr);
    expect_close(out.download(), rounded(ro, c.dtype), c.dtype, "out");
    expect_close(probs.download(), rounded(rp, c.dtype), c.dtype, "probs");
    if (dropout) {
      EXPECT_EQ(mask.download(), std::vector<float>(rm.begin(), rm.end())) << "the CPU's mask bit for bit";
      expect_close(dropped.download(), rounded(rd, c.dtype), c.dtype, "dropped");
    }
    // backward from the CPU's stored tensors
    const auto rp_r = rounded(rp, c.dtype), rd_r = rounded(rd, c.dtype);
    probs.upload(rp_r);
    if (dropout) dropped.upload(rd_r);
    attention_backward(grad.t(), ddout.c(), dqkv.c(), probs.c(), dropout ? mask.u8() : nullptr,
                       dropout ? dropped.c() : ConstDeviceTensor{}, s, scratch, nullptr);
    cpu::attention_backward(rdq.data(), dout.data(), qkv.data(), rp_r.data(), dropout ? rm.data() : nullptr,
                            dropout ? rd_r.data() : nullptr, s);
    expect_close(grad.download(), rounded(rdq, c.dtype), c.dtype, "dqkv", c.dtype == DType::fp32 ? 5.0 : 1.5);
  }
}

}  // namespace
}  // namespace clustersim::executor::cuda
