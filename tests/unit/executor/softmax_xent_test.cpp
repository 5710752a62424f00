// Tests for cpu/softmax_xent.hpp: losses against a float64 log-sum-exp, the fused gradient against
// central differences (in place too), ignored rows, and the vocabulary-parallel steps composed over
// two shards against the unsharded kernel.
#include <gtest/gtest.h>

#include <cmath>

#include "clustersim/executor/cpu/softmax_xent.hpp"
#include "kernel_test_util.hpp"

namespace clustersim::executor {
namespace {

using test::fd_gradient;
using test::random_floats;
using test::rel_error;
using test::to_double;

std::vector<double> xent_ref(const std::vector<double>& logits, const std::vector<std::int32_t>& t, std::int64_t V) {
  const std::int64_t R = static_cast<std::int64_t>(t.size());
  std::vector<double> loss(static_cast<std::size_t>(R));
  for (std::int64_t r = 0; r < R; ++r) {
    if (t[static_cast<std::size_t>(r)] < 0) continue;
    double s = 0.0;
    for (std::int64_t j = 0; j < V; ++j) s += std::exp(logits[static_cast<std::size_t>(r * V + j)]);
    loss[static_cast<std::size_t>(r)] =
        std::log(s) - logits[static_cast<std::size_t>(r * V + t[static_cast<std::size_t>(r)])];
  }
  return loss;
}

TEST(SoftmaxXent, ForwardBackwardAndInPlace) {
  const std::int64_t R = 4, V = 7;
  const auto logits = random_floats(static_cast<std::size_t>(R * V), 1, -3.0f, 3.0f);
  const std::vector<std::int32_t> t = {3, 0, -1, 6};
  std::vector<float> loss(static_cast<std::size_t>(R));
  cpu::softmax_xent_forward(loss.data(), logits.data(), t.data(), R, V);
  auto ref = [&](const std::vector<double>& l) { return xent_ref(l, t, V); };
  EXPECT_LT(rel_error(loss, ref(to_double(logits))), 1e-6);
  EXPECT_EQ(loss[2], 0.0f);
  const float scale = 0.37f;
  std::vector<double> w(static_cast<std::size_t>(R), scale);
  const auto expected = fd_gradient(ref, to_double(logits), w);
  std::vector<float> d(logits.size());
  cpu::softmax_xent_backward(d.data(), logits.data(), t.data(), R, V, scale);
  EXPECT_LT(rel_error(d, expected), 1e-5);
  auto in_place = logits;
  cpu::softmax_xent_backward(in_place.data(), in_place.data(), t.data(), R, V, scale);
  EXPECT_EQ(in_place, d);
}

TEST(SoftmaxXent, VocabParallelStepsMatchUnsharded) {
  const std::int64_t R = 5, V = 8, shards = 2, Vl = V / shards;
  const auto logits = random_floats(static_cast<std::size_t>(R * V), 2, -4.0f, 4.0f);
  const std::vector<std::int32_t> t = {1, 7, 4, -1, 3};
  std::vector<float> loss_full(static_cast<std::size_t>(R)), d_full(logits.size());
  cpu::softmax_xent_forward(loss_full.data(), logits.data(), t.data(), R, V);
  cpu::softmax_xent_backward(d_full.data(), logits.data(), t.data(), R, V, 0.5f);

  std::vector<std::vector<float>> local(shards);
  for (std::int64_t s = 0; s < shards; ++s)
    for (std::int64_t r = 0; r < R; ++r)
      for (std::int64_t j = 0; j < Vl; ++j)
        local[static_cast<std::size_t>(s)].push_back(logits[static_cast<std::size_t>(r * V + s * Vl + j)]);
  // step 1 + all_reduce(max)
  std::vector<float> max(static_cast<std::size_t>(R), -INFINITY);
  for (std::int64_t s = 0; s < shards; ++s) {
    std::vector<float> m(static_cast<std::size_t>(R));
    cpu::xent_parallel_max(m.data(), local[static_cast<std::size_t>(s)].data(), R, Vl);
    for (std::int64_t r = 0; r < R; ++r)
      max[static_cast<std::size_t>(r)] = std::max(max[static_cast<std::size_t>(r)], m[static_cast<std::size_t>(r)]);
  }
  // step 2 + all_reduce(sum)
  std::vector<float> stats(static_cast<std::size_t>(2 * R), 0.0f);
  for (std::int64_t s = 0; s < shards; ++s) {
    std::vector<float> st(static_cast<std::size_t>(2 * R));
    cpu::xent_parallel_stats(st.data(), local[static_cast<std::size_t>(s)].data(), max.data(), t.data(), R, Vl, s * Vl);
    for (std::size_t i = 0; i < st.size(); ++i) stats[i] += st[i];
  }
  std::vector<float> loss(static_cast<std::size_t>(R));
  cpu::xent_parallel_loss(loss.data(), stats.data(), max.data(), t.data(), R);
  EXPECT_LT(rel_error(loss, to_double(loss_full)), 1e-6);
  std::vector<float> loss_all(static_cast<std::size_t>(R));  // without targets: row 3 is not ignored
  cpu::xent_parallel_loss(loss_all.data(), stats.data(), max.data(), nullptr, R);
  EXPECT_EQ(loss_all[0], loss[0]);
  EXPECT_GT(loss_all[3], 0.0f);
  for (std::int64_t s = 0; s < shards; ++s) {
    auto d = local[static_cast<std::size_t>(s)];
    cpu::xent_parallel_backward(d.data(), d.data(), t.data(), max.data(), stats.data(), R, Vl, s * Vl, 0.5f);
    for (std::int64_t r = 0; r < R; ++r)
      for (std::int64_t j = 0; j < Vl; ++j)
        EXPECT_NEAR(d[static_cast<std::size_t>(r * Vl + j)], d_full[static_cast<std::size_t>(r * V + s * Vl + j)],
                    1e-6);
  }
}

}  // namespace
}  // namespace clustersim::executor
