// Tests for cpu/embedding.hpp: lookup with and without positions, vocabulary shards, the
// shard-major row order, the accumulated backward against float64 central differences, and
// position_add.
#include <gtest/gtest.h>

#include "clustersim/executor/cpu/embedding.hpp"
#include "kernel_test_util.hpp"

namespace clustersim::executor {
namespace {

using test::fd_gradient;
using test::random_floats;
using test::rel_error;
using test::to_double;

TEST(Embedding, ForwardBackwardWithPositions) {
  const std::int64_t B = 2, T = 3, C = 4, V = 5;
  const std::vector<std::int32_t> tokens = {0, 4, 2, 2, 2, 1};
  const auto wte = random_floats(static_cast<std::size_t>(V * C), 1);
  const auto wpe = random_floats(static_cast<std::size_t>(T * C), 2);
  cpu::EmbeddingShape s{.batch = B, .seq = T, .dim = C, .vocab = V};
  std::vector<float> x(static_cast<std::size_t>(B * T * C));
  cpu::embedding_forward(x.data(), tokens.data(), wte.data(), wpe.data(), s);
  // reference over the packed parameters (wte, wpe)
  auto ref = [&](const std::vector<double>& p) {
    std::vector<double> y(static_cast<std::size_t>(B * T * C));
    for (std::int64_t r = 0; r < B * T; ++r)
      for (std::int64_t c = 0; c < C; ++c)
        y[static_cast<std::size_t>(r * C + c)] =
            p[static_cast<std::size_t>(tokens[static_cast<std::size_t>(r)] * C + c)] +
            p[static_cast<std::size_t>(V * C + (r % T) * C + c)];
    return y;
  };
  std::vector<double> packed = to_double(wte);
  packed.insert(packed.end(), wpe.begin(), wpe.end());
  EXPECT_LT(rel_error(x, ref(packed)), 1e-7);
  const auto dx = random_floats(x.size(), 3);
  const auto g = fd_gradient(ref, packed, to_double(dx));
  std::vector<float> dwte(wte.size(), 1.0f), dwpe(wpe.size(), 1.0f);
  cpu::embedding_backward(dwte.data(), dwpe.data(), dx.data(), tokens.data(), s);
  std::vector<double> gte(g.begin(), g.begin() + V * C), gpe(g.begin() + V * C, g.end());
  for (auto& v : gte) v += 1.0;
  for (auto& v : gpe) v += 1.0;
  EXPECT_LT(rel_error(dwte, gte), 1e-6);
  EXPECT_LT(rel_error(dwpe, gpe), 1e-6);
}

TEST(Embedding, VocabShardsSumToFullLookup) {
  const std::int64_t B = 1, T = 4, C = 3, V = 6;
  const std::vector<std::int32_t> tokens = {5, 0, 3, 2};
  const auto wte = random_floats(static_cast<std::size_t>(V * C), 4);
  std::vector<float> full(static_cast<std::size_t>(T * C)), sum(full.size(), 0.0f);
  cpu::embedding_forward(full.data(), tokens.data(), wte.data(), nullptr, {.batch = B, .seq = T, .dim = C, .vocab = V});
  for (std::int64_t shard = 0; shard < 2; ++shard) {
    std::vector<float> part(full.size());
    cpu::EmbeddingShape s{.batch = B, .seq = T, .dim = C, .vocab = V / 2, .vocab_offset = shard * V / 2};
    cpu::embedding_forward(part.data(), tokens.data(), wte.data() + shard * (V / 2) * C, nullptr, s);
    for (std::size_t i = 0; i < part.size(); ++i) sum[i] += part[i];
  }
  EXPECT_EQ(sum, full);
}

TEST(Embedding, ShardMajorRowsUseTheirPositions) {
  const std::int64_t B = 2, T = 4, C = 1, V = 3;
  // rows in shard-major order for 2 shards: (s0,b0,t0..1), (s0,b1,t0..1), (s1,b0,t2..3), (s1,b1,t2..3)
  const std::vector<std::int32_t> tokens(8, 0);
  const std::vector<float> wte = {0, 0, 0}, wpe = {10, 20, 30, 40};
  std::vector<float> x(8);
  cpu::embedding_forward(x.data(), tokens.data(), wte.data(), wpe.data(),
                         {.batch = B, .seq = T, .dim = C, .vocab = V, .seq_shards = 2});
  EXPECT_EQ(x, (std::vector<float>{10, 20, 10, 20, 30, 40, 30, 40}));
}

TEST(Embedding, PositionAddAndBackward) {
  const std::int64_t B = 2, T = 2, C = 2;
  std::vector<float> x = {1, 1, 1, 1, 2, 2, 2, 2};
  const std::vector<float> wpe = {0, 0, 1, 2, 3, 4, 5, 6};  // maxT = 4
  cpu::position_add_forward(x.data(), wpe.data(), B, T, C, 1);
  EXPECT_EQ(x, (std::vector<float>{2, 3, 4, 5, 3, 4, 5, 6}));
  std::vector<float> dwpe(8, 0.0f);
  const std::vector<float> dx = {1, 2, 3, 4, 5, 6, 7, 8};
  cpu::position_add_backward(dwpe.data(), dx.data(), B, T, C, 2);
  EXPECT_EQ(dwpe, (std::vector<float>{0, 0, 0, 0, 6, 8, 10, 12}));
}

}  // namespace
}  // namespace clustersim::executor
