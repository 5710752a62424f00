// Tests for cpu/attention.hpp: forward against a float64 reference (causal and not, GQA, dropout,
// sequence-sharded row order), backward against float64 central differences of that reference, for
// the flash and non-flash variants.
#include <gtest/gtest.h>

#include <cmath>

#include "clustersim/executor/cpu/attention.hpp"
#include "clustersim/executor/rng.hpp"
#include "kernel_test_util.hpp"

namespace clustersim::executor {
namespace {

using test::fd_gradient;
using test::random_floats;
using test::rel_error;
using test::to_double;

std::int64_t row_of(const cpu::AttentionShape& s, std::int64_t b, std::int64_t t) {
  const std::int64_t local = s.seq / s.seq_shards;
  return ((t / local) * s.batch + b) * local + t % local;
}

// out(B*T rows in the shape's row order, H*D) from qkv, in double.
std::vector<double> attention_reference(const std::vector<double>& qkv, const cpu::AttentionShape& s) {
  const std::int64_t W = s.qkv_width(), HD = s.heads * s.head_dim, group = s.heads / s.kv_heads;
  const std::int64_t heads_total = s.heads_total > 0 ? s.heads_total : s.heads;
  std::vector<double> out(static_cast<std::size_t>(s.batch * s.seq * HD), 0.0);
  const double scale = 1.0 / std::sqrt(static_cast<double>(s.head_dim));
  for (std::int64_t b = 0; b < s.batch; ++b)
    for (std::int64_t h = 0; h < s.heads; ++h) {
      const std::int64_t g = h / group;
      for (std::int64_t i = 0; i < s.seq; ++i) {
        std::vector<double> sc(static_cast<std::size_t>(s.seq), -INFINITY);
        double mx = -INFINITY;
        for (std::int64_t j = 0; j < s.seq; ++j) {
          if (s.causal && j > i) continue;
          double dot = 0.0;
          for (std::int64_t e = 0; e < s.head_dim; ++e)
            dot += qkv[static_cast<std::size_t>(row_of(s, b, i) * W + h * s.head_dim + e)] *
                   qkv[static_cast<std::size_t>(row_of(s, b, j) * W + (s.heads + g) * s.head_dim + e)];
          sc[static_cast<std::size_t>(j)] = dot * scale;
          mx = std::max(mx, dot * scale);
        }
        double sum = 0.0;
        for (auto& v : sc) {
          v = std::isinf(v) ? 0.0 : std::exp(v - mx);
          sum += v;
        }
        for (std::int64_t j = 0; j < s.seq; ++j) {
          double p = sc[static_cast<std::size_t>(j)] / sum;
          if (s.dropout > 0.0f) {
            const auto idx =
                static_cast<std::uint64_t>(((b * heads_total + s.head_offset + h) * s.seq + i) * s.seq + j);
            p = dropout_keep(s.dropout_key, idx, s.dropout) ? p / (1.0 - s.dropout) : 0.0;
          }
          for (std::int64_t e = 0; e < s.head_dim; ++e)
            out[static_cast<std::size_t>(row_of(s, b, i) * HD + h * s.head_dim + e)] +=
                p * qkv[static_cast<std::size_t>(row_of(s, b, j) * W + (s.heads + s.kv_heads + g) * s.head_dim + e)];
        }
      }
    }
  return out;
}

struct Case {
  const char* name;
  cpu::AttentionShape shape;
};

std::vector<Case> cases() {
  return {
      {"causal mha", {.batch = 2, .heads = 2, .kv_heads = 2, .seq = 5, .head_dim = 4, .causal = true}},
      {"full mha", {.batch = 1, .heads = 2, .kv_heads = 2, .seq = 4, .head_dim = 3, .causal = false}},
      {"causal gqa", {.batch = 1, .heads = 4, .kv_heads = 2, .seq = 5, .head_dim = 2, .causal = true}},
      {"dropout",
       {.batch = 1,
        .heads = 2,
        .kv_heads = 1,
        .seq = 6,
        .head_dim = 2,
        .causal = true,
        .dropout = 0.3f,
        .dropout_key = 99,
        .heads_total = 4,
        .head_offset = 2}},
      {"seq shards", {.batch = 2, .heads = 2, .kv_heads = 1, .seq = 6, .head_dim = 2, .causal = true, .seq_shards = 3}},
      {"long rows", {.batch = 1, .heads = 1, .kv_heads = 1, .seq = 70, .head_dim = 3, .causal = true}},
  };
}

TEST(Attention, ForwardMatchesReference) {
  int seed = 10;
  for (const auto& c : cases()) {
    const auto& s = c.shape;
    const auto qkv = random_floats(static_cast<std::size_t>(s.batch * s.seq * s.qkv_width()), seed++);
    const auto expected = attention_reference(to_double(qkv), s);
    const std::size_t n_out = static_cast<std::size_t>(s.batch * s.seq * s.heads * s.head_dim);
    const std::size_t n_p = static_cast<std::size_t>(s.batch * s.heads * s.seq * s.seq);
    std::vector<float> out(n_out), lse(static_cast<std::size_t>(s.batch * s.heads * s.seq));
    cpu::attention_forward_flash(out.data(), lse.data(), qkv.data(), s);
    EXPECT_LT(rel_error(out, expected), 2e-6) << c.name << " (flash)";
    std::vector<float> out2(n_out), probs(n_p), dropped(n_p);
    std::vector<std::uint8_t> mask(n_p);
    cpu::attention_forward(out2.data(), probs.data(), mask.data(), dropped.data(), qkv.data(), s);
    EXPECT_LT(rel_error(out2, expected), 2e-6) << c.name << " (non-flash)";
    // probabilities: rows sum to one, causal entries zero
    for (std::int64_t r = 0; r < s.batch * s.heads * s.seq; ++r) {
      double sum = 0.0;
      for (std::int64_t j = 0; j < s.seq; ++j) {
        sum += probs[static_cast<std::size_t>(r * s.seq + j)];
        if (s.causal && j > r % s.seq) {
          EXPECT_EQ(probs[static_cast<std::size_t>(r * s.seq + j)], 0.0f);
        }
      }
      EXPECT_NEAR(sum, 1.0, 1e-6);
    }
  }
}

TEST(Attention, BackwardMatchesFiniteDifferences) {
  int seed = 40;
  for (const auto& c : cases()) {
    const auto& s = c.shape;
    if (s.seq > 20) continue;  // finite differences on the small cases
    const auto qkv = random_floats(static_cast<std::size_t>(s.batch * s.seq * s.qkv_width()), seed++);
    const std::size_t n_out = static_cast<std::size_t>(s.batch * s.seq * s.heads * s.head_dim);
    const std::size_t n_p = static_cast<std::size_t>(s.batch * s.heads * s.seq * s.seq);
    const auto dout = random_floats(n_out, seed++);
    const auto expected = fd_gradient([&](const std::vector<double>& x) { return attention_reference(x, s); },
                                      to_double(qkv), to_double(dout));

    std::vector<float> out(n_out), lse(static_cast<std::size_t>(s.batch * s.heads * s.seq)), dqkv(qkv.size(), 7.0f);
    cpu::attention_forward_flash(out.data(), lse.data(), qkv.data(), s);
    cpu::attention_backward_flash(dqkv.data(), dout.data(), qkv.data(), out.data(), lse.data(), s);
    EXPECT_LT(rel_error(dqkv, expected), 1e-4) << c.name << " (flash)";

    std::vector<float> probs(n_p), dropped(n_p), dqkv2(qkv.size(), 7.0f);
    std::vector<std::uint8_t> mask(n_p);
    cpu::attention_forward(out.data(), probs.data(), mask.data(), dropped.data(), qkv.data(), s);
    cpu::attention_backward(dqkv2.data(), dout.data(), qkv.data(), probs.data(), mask.data(), dropped.data(), s);
    EXPECT_LT(rel_error(dqkv2, expected), 1e-4) << c.name << " (non-flash)";
  }
}

TEST(Attention, DropoutMaskIsRegeneratedFromKey) {
  cpu::AttentionShape s{.batch = 1,
                        .heads = 2,
                        .kv_heads = 2,
                        .seq = 8,
                        .head_dim = 2,
                        .causal = false,
                        .dropout = 0.5f,
                        .dropout_key = 1234};
  const std::size_t n_p = static_cast<std::size_t>(s.batch * s.heads * s.seq * s.seq);
  const auto qkv = random_floats(static_cast<std::size_t>(s.batch * s.seq * s.qkv_width()), 3);
  std::vector<float> out(static_cast<std::size_t>(s.seq * s.heads * s.head_dim)), probs(n_p), dropped(n_p);
  std::vector<std::uint8_t> mask(n_p);
  cpu::attention_forward(out.data(), probs.data(), mask.data(), dropped.data(), qkv.data(), s);
  int kept = 0;
  for (std::size_t i = 0; i < n_p; ++i) {
    EXPECT_EQ(mask[i] != 0, dropout_keep(s.dropout_key, i, s.dropout));
    EXPECT_FLOAT_EQ(dropped[i], mask[i] ? probs[i] * 2.0f : 0.0f);
    kept += mask[i];
  }
  EXPECT_GT(kept, 64 - 25);  // 128 draws at p = 1/2: 4.4 sigma
  EXPECT_LT(kept, 64 + 25);
}

}  // namespace
}  // namespace clustersim::executor
