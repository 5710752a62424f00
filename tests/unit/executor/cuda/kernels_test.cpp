// Device tests of the CUDA kernels of cuda/elementwise.hpp, reduce.hpp, norm.hpp, softmax_xent.hpp,
// embedding.hpp, optimizer.hpp and conv_pool.hpp against the CPU kernels on random inputs: casts,
// dropout masks, embedding gradients and pools bit for bit; arithmetic within a tolerance per storage
// precision. Label gpu: every test skips with "no CUDA device: ..." when no device is visible.
#include <gtest/gtest.h>

#include <cmath>

#include "clustersim/executor/cpu/activation.hpp"
#include "clustersim/executor/cpu/dropout.hpp"
#include "clustersim/executor/cpu/embedding.hpp"
#include "clustersim/executor/cpu/misc.hpp"
#include "clustersim/executor/cpu/norm.hpp"
#include "clustersim/executor/cpu/optimizer.hpp"
#include "clustersim/executor/cpu/pool.hpp"
#include "clustersim/executor/cpu/softmax_xent.hpp"
#include "clustersim/executor/cuda/conv_pool.hpp"
#include "clustersim/executor/cuda/elementwise.hpp"
#include "clustersim/executor/cuda/embedding.hpp"
#include "clustersim/executor/cuda/norm.hpp"
#include "clustersim/executor/cuda/optimizer.hpp"
#include "clustersim/executor/cuda/reduce.hpp"
#include "clustersim/executor/cuda/softmax_xent.hpp"
#include "clustersim/executor/numeric.hpp"
#include "clustersim/executor/rng.hpp"
#include "cuda_test_util.hpp"

namespace clustersim::executor::cuda {
namespace {

using executor::test::random_floats;
using test::DeviceBuffer;
using test::expect_close;
using test::rounded;

constexpr DeviceStream kStream = nullptr;
const DType kFloatTypes[] = {DType::fp32, DType::bf16, DType::fp16};

TEST(CudaKernels, CastsMatchNumericBitForBit) {
  CLUSTERSIM_REQUIRE_CUDA();
  std::vector<float> v = random_floats(4096, 1, -600.0f, 600.0f);
  const float specials[] = {0.0f, -0.0f, 1e-10f, -3e-8f, 65504.0f, 65520.0f, 448.0f, 449.0f, 57344.0f, 1e30f,
                            INFINITY, -INFINITY, NAN, 5.9604645e-08f, 0.001953125f, 3.0e38f};
  for (std::size_t i = 0; i < std::size(specials); ++i) v[i] = specials[i];
  const DType all[] = {DType::fp32, DType::bf16, DType::fp16, DType::fp8_e4m3, DType::fp8_e5m2};
  for (DType from : all)
    for (DType to : all) {
      const std::vector<float> src = rounded(v, from);
      DeviceBuffer x(src, from), y(static_cast<std::int64_t>(v.size()), to);
      convert(y.t(), x.c(), x.size(), kStream);
      std::vector<std::byte> expected(v.size() * static_cast<std::size_t>(dtype_bytes(to)));
      const std::vector<std::byte> in = x.bytes();
      cpu::cast_convert(expected.data(), to, in.data(), from, x.size());
      EXPECT_EQ(y.bytes(), expected) << to_string(from) << " -> " << to_string(to);
    }
}

TEST(CudaKernels, AddsAndScalesRoundLikeTheCpu) {
  CLUSTERSIM_REQUIRE_CUDA();
  const std::int64_t rows = 37, n = 129;
  for (DType d : kFloatTypes) {
    const auto a = rounded(random_floats(rows * n, 2), d), b = rounded(random_floats(rows * n, 3), d);
    const auto bias = rounded(random_floats(n, 4), d);
    DeviceBuffer da(a, d), db(b, d), dbias(bias, d), out(rows * n, d);
    residual_add(out.t(), da.c(), db.c(), rows * n, kStream);
    std::vector<float> ref(a.size());
    cpu::residual_add(ref.data(), a.data(), b.data(), rows * n);
    EXPECT_EQ(out.download(), rounded(ref, d)) << "residual_add " << to_string(d);
    add_inplace(out.t(), da.c(), rows * n, kStream);
    auto acc = rounded(ref, d);
    cpu::add_inplace(acc.data(), a.data(), rows * n);
    EXPECT_EQ(out.download(), rounded(acc, d)) << "add_inplace";
    scale_inplace(da.t(), rows * n, 0.375f, kStream);
    auto sc = a;
    cpu::scale_inplace(sc.data(), rows * n, 0.375f);
    EXPECT_EQ(da.download(), rounded(sc, d)) << "scale";
    bias_add(db.t(), dbias.c(), rows, n, kStream);
    auto ba = b;
    cpu::bias_add(ba.data(), bias.data(), rows, n);
    EXPECT_EQ(db.download(), rounded(ba, d)) << "bias_add";
  }
}

TEST(CudaKernels, ActivationsMatchTheCpu) {
  CLUSTERSIM_REQUIRE_CUDA();
  const std::int64_t rows = 24, f = 96, n = rows * 2 * f;
  for (DType d : kFloatTypes) {
    const auto x = rounded(random_floats(n, 5, -4.0f, 4.0f), d), dy = rounded(random_floats(n, 6), d);
    DeviceBuffer dx_(x, d), ddy(dy, d), y(n, d), g(n, d);
    std::vector<float> ref(n), ref2(n);
    gelu_forward(y.t(), dx_.c(), n, kStream);
    cpu::gelu_forward(ref.data(), x.data(), n);
    expect_close(y.download(), rounded(ref, d), d, "gelu");
    gelu_backward(g.t(), dx_.c(), ddy.c(), n, kStream);
    cpu::gelu_backward(ref.data(), x.data(), dy.data(), n);
    expect_close(g.download(), rounded(ref, d), d, "gelu_backward");
    relu_forward(y.t(), dx_.c(), n, kStream);
    cpu::relu_forward(ref.data(), x.data(), n);
    EXPECT_EQ(y.download(), rounded(ref, d)) << "relu";
    relu_backward(g.t(), y.c(), ddy.c(), n, kStream);
    cpu::relu_backward(ref2.data(), ref.data(), dy.data(), n);
    EXPECT_EQ(g.download(), rounded(ref2, d)) << "relu_backward";
    DeviceBuffer sy(rows * f, d), sdy(rounded(random_floats(rows * f, 7), d), d), sdx(n, d);
    swiglu_forward(sy.t(), dx_.c(), rows, f, kStream);
    std::vector<float> s(rows * f);
    cpu::swiglu_forward(s.data(), x.data(), rows, f);
    expect_close(sy.download(), rounded(s, d), d, "swiglu");
    swiglu_backward(sdx.t(), dx_.c(), sdy.c(), rows, f, kStream);
    cpu::swiglu_backward(ref.data(), x.data(), sdy.download().data(), rows, f);
    expect_close(sdx.download(), rounded(ref, d), d, "swiglu_backward");
  }
}

TEST(CudaKernels, DropoutMasksAreTheCpuMasksBitForBit) {
  CLUSTERSIM_REQUIRE_CUDA();
  const std::int64_t n = 100003;
  const std::uint64_t key = derive_key(7, 0xD50, 3, 0, 11);
  const auto x = random_floats(n, 8);
  DeviceBuffer dx(x, DType::fp32), y(n, DType::fp32), mask(n, DType::uint8), back(n, DType::fp32);
  dropout_forward(y.t(), mask.u8(), dx.c(), n, 0.1f, key, kStream);
  std::vector<float> ry(n);
  std::vector<std::uint8_t> rm(n);
  cpu::dropout_forward(ry.data(), rm.data(), x.data(), n, 0.1f, key);
  const auto gm = mask.download();
  std::int64_t mismatches = 0;
  for (std::int64_t i = 0; i < n; ++i) mismatches += gm[static_cast<std::size_t>(i)] != rm[static_cast<std::size_t>(i)];
  EXPECT_EQ(mismatches, 0);
  EXPECT_EQ(y.download(), ry);
  dropout_backward(back.t(), dx.c(), mask.u8(), n, 0.1f, kStream);
  std::vector<float> rb(n);
  cpu::dropout_backward(rb.data(), x.data(), rm.data(), n, 0.1f);
  EXPECT_EQ(back.download(), rb);
}

TEST(CudaKernels, RopeMatchesTheCpuAndRunsInPlace) {
  CLUSTERSIM_REQUIRE_CUDA();
  for (std::int64_t shards : {1, 2}) {
    const cpu::RopeShape s{.batch = 2, .seq = 16, .heads = 4, .kv_heads = 2, .head_dim = 32, .theta = 10000.0,
                           .position_offset = 0, .seq_shards = shards};
    const std::int64_t n = s.batch * s.seq * (s.heads + 2 * s.kv_heads) * s.head_dim;
    const auto x = random_floats(n, 9);
    DeviceBuffer dx(x, DType::fp32), out(n, DType::fp32);
    test::TestScratch scratch;
    rope_forward(out.t(), dx.c(), s, scratch, kStream);
    std::vector<float> ref(n), back(n);
    cpu::rope_forward(ref.data(), x.data(), s);
    expect_close(out.download(), ref, DType::fp32, "rope");
    rope_backward(dx.t(), dx.c(), s, scratch, kStream);  // in place
    cpu::rope_backward(back.data(), x.data(), s);
    expect_close(dx.download(), back, DType::fp32, "rope_backward in place");
  }
}

TEST(CudaKernels, ReductionsMatchTheCpu) {
  CLUSTERSIM_REQUIRE_CUDA();
  const std::int64_t rows = 1000, n = 70;
  const auto dy = random_floats(rows * n, 10);
  const auto init = random_floats(n, 11);
  DeviceBuffer ddy(dy, DType::fp32), dbias(init, DType::fp32);
  test::TestScratch scratch;
  bias_grad(dbias.t(), ddy.c(), rows, n, scratch, kStream);
  auto ref = init;
  cpu::bias_grad(ref.data(), dy.data(), rows, n);
  expect_close(dbias.download(), ref, DType::fp32, "bias_grad", 10.0);

  DeviceBuffer flag(1, DType::fp32);
  mark_nonfinite(flag.f(), ddy.c(), rows * n, kStream);
  EXPECT_EQ(flag.download()[0], 0.0f);
  auto bad = dy;
  bad[777] = NAN;
  DeviceBuffer dbad(bad, DType::fp32);
  mark_nonfinite(flag.f(), dbad.c(), rows * n, kStream);
  EXPECT_EQ(flag.download()[0], 1.0f);

  DeviceBuffer acc(std::vector<float>{2.0f}, DType::fp32);
  const ConstDeviceTensor xs[] = {ddy.c(), dbias.c()};
  const std::int64_t counts[] = {rows * n, n};
  grad_norm_sq(acc.f(), xs, counts, 2, 0.5, scratch, kStream);
  const double expected = 2.0 + 0.5 * (cpu::sum_of_squares(dy.data(), rows * n) + cpu::sum_of_squares(ref.data(), n));
  EXPECT_NEAR(acc.download()[0], expected, 1e-5 * expected);

  DeviceBuffer norm(std::vector<float>{16.0f * 65536.0f * 65536.0f}, DType::fp32);
  DeviceBuffer x(dy, DType::bf16);
  clip_by_norm(x.t(), rows * n, norm.f(), 65536.0 * 65536.0, 2.0, kStream);  // sqrt(16) = 4 > 2: x * 0.5
  auto half = rounded(dy, DType::bf16);
  cpu::scale_inplace(half.data(), rows * n, cpu::clip_factor(16.0, 2.0));
  EXPECT_EQ(x.download(), rounded(half, DType::bf16));
}

TEST(CudaKernels, NormsMatchTheCpu) {
  CLUSTERSIM_REQUIRE_CUDA();
  const std::int64_t rows = 67, cols = 384;
  test::TestScratch scratch;
  for (DType d : kFloatTypes) {
    const auto x = rounded(random_floats(rows * cols, 12, -2.0f, 3.0f), d);
    const auto dy = rounded(random_floats(rows * cols, 13), d);
    const auto g = rounded(random_floats(cols, 14, 0.5f, 1.5f), d), b = rounded(random_floats(cols, 15), d);
    DeviceBuffer dx_(x, d), ddy(dy, d), dg(g, d), db(b, d), y(rows * cols, d), mean(rows, DType::fp32),
        rstd(rows, DType::fp32);
    std::vector<float> ry(rows * cols), rm(rows), rr(rows);
    layernorm_forward(y.t(), mean.f(), rstd.f(), dx_.c(), dg.c(), db.c(), rows, cols, 1e-5f, kStream);
    cpu::layernorm_forward(ry.data(), rm.data(), rr.data(), x.data(), g.data(), b.data(), rows, cols, 1e-5f);
    expect_close(y.download(), rounded(ry, d), d, "layernorm y");
    expect_close(mean.download(), rm, DType::fp32, "layernorm mean");
    expect_close(rstd.download(), rr, DType::fp32, "layernorm rstd");
    DeviceBuffer gx(rows * cols, d), gg(cols, d), gb(cols, d);
    layernorm_backward(gx.t(), gg.t(), gb.t(), ddy.c(), dx_.c(), dg.c(), mean.f(), rstd.f(), rows, cols, false, scratch,
                       kStream);
    std::vector<float> rgx(rows * cols), rgg(cols, 0.0f), rgb(cols, 0.0f);
    cpu::layernorm_backward(rgx.data(), rgg.data(), rgb.data(), dy.data(), x.data(), g.data(), rm.data(), rr.data(),
                            rows, cols, false);
    expect_close(gx.download(), rounded(rgx, d), d, "layernorm dx");
    expect_close(gg.download(), rounded(rgg, d), d, "layernorm dgamma", 5.0);
    expect_close(gb.download(), rounded(rgb, d), d, "layernorm dbeta", 5.0);

    rmsnorm_forward(y.t(), rstd.f(), dx_.c(), dg.c(), rows, cols, 1e-5f, kStream);
    cpu::rmsnorm_forward(ry.data(), rr.data(), x.data(), g.data(), rows, cols, 1e-5f);
    expect_close(y.download(), rounded(ry, d), d, "rmsnorm y");
    DeviceBuffer rx(rows * cols, d), rg(cols, d);
    rmsnorm_backward(rx.t(), rg.t(), ddy.c(), dx_.c(), dg.c(), rstd.f(), rows, cols, false, scratch, kStream);
    std::fill(rgg.begin(), rgg.end(), 0.0f);
    cpu::rmsnorm_backward(rgx.data(), rgg.data(), dy.data(), x.data(), g.data(), rr.data(), rows, cols, false);
    expect_close(rx.download(), rounded(rgx, d), d, "rmsnorm dx");
    expect_close(rg.download(), rounded(rgg, d), d, "rmsnorm dgamma", 5.0);

    // batchnorm over the rows of each column; dx accumulated
    DeviceBuffer bmean(cols, DType::fp32), brstd(cols, DType::fp32), by(rows * cols, d);
    std::vector<float> rbm(cols), rbr(cols);
    batchnorm_forward(by.t(), bmean.f(), brstd.f(), dx_.c(), dg.c(), db.c(), rows, cols, 1e-5f, scratch, kStream);
    cpu::batchnorm_forward(ry.data(), rbm.data(), rbr.data(), x.data(), g.data(), b.data(), rows, cols, 1e-5f);
    expect_close(by.download(), rounded(ry, d), d, "batchnorm y");
    DeviceBuffer bx(dy, d), bg(cols, d), bb(cols, d);
    batchnorm_backward(bx.t(), bg.t(), bb.t(), ddy.c(), dx_.c(), dg.c(), bmean.f(), brstd.f(), rows, cols, true,
                       scratch, kStream);
    auto rbx = dy;
    std::fill(rgg.begin(), rgg.end(), 0.0f);
    std::fill(rgb.begin(), rgb.end(), 0.0f);
    cpu::batchnorm_backward(rbx.data(), rgg.data(), rgb.data(), dy.data(), x.data(), g.data(), rbm.data(), rbr.data(),
                            rows, cols, true);
    expect_close(bx.download(), rounded(rbx, d), d, "batchnorm dx (accumulated)");
    expect_close(bg.download(), rounded(rgg, d), d, "batchnorm dgamma", 5.0);
  }
}

TEST(CudaKernels, SoftmaxCrossEntropyMatchesTheCpu) {
  CLUSTERSIM_REQUIRE_CUDA();
  const std::int64_t rows = 33, vocab = 5003;
  std::vector<float> targets(rows);
  for (std::int64_t r = 0; r < rows; ++r) targets[static_cast<std::size_t>(r)] = static_cast<float>((r * 977) % vocab);
  targets[5] = -1.0f;  // ignored
  std::vector<std::int32_t> ti(targets.begin(), targets.end());
  for (DType d : kFloatTypes) {
    const auto logits = rounded(random_floats(rows * vocab, 16, -6.0f, 6.0f), d);
    DeviceBuffer dl(logits, d), dt(targets, DType::int32), losses(rows, DType::fp32), grad(rows * vocab, d);
    softmax_xent_forward(losses.f(), dl.c(), dt.i32(), rows, vocab, kStream);
    std::vector<float> rl(rows), rg(rows * vocab);
    cpu::softmax_xent_forward(rl.data(), logits.data(), ti.data(), rows, vocab);
    expect_close(losses.download(), rl, DType::fp32, "xent losses", 10.0);
    softmax_xent_backward(dl.t(), dl.c(), dt.i32(), rows, vocab, 0.25f, kStream);  // in place
    cpu::softmax_xent_backward(rg.data(), logits.data(), ti.data(), rows, vocab, 0.25f);
    expect_close(dl.download(), rounded(rg, d), d, "xent dlogits in place");
  }
  // vocabulary-parallel steps on one shard equal the fused kernel
  const auto logits = random_floats(rows * vocab, 17, -6.0f, 6.0f);
  DeviceBuffer dl(logits, DType::fp32), dt(targets, DType::int32), mx(rows, DType::fp32), st(2 * rows, DType::fp32),
      ls(rows, DType::fp32), g(rows * vocab, DType::fp32);
  xent_parallel_max(mx.f(), dl.c(), rows, vocab, kStream);
  xent_parallel_stats(st.f(), dl.c(), mx.f(), dt.i32(), rows, vocab, 0, kStream);
  xent_parallel_loss(ls.f(), st.f(), mx.f(), nullptr, rows, kStream);
  xent_parallel_backward(g.t(), dl.c(), dt.i32(), mx.f(), st.f(), rows, vocab, 0, 0.5f, kStream);
  std::vector<float> rm(rows), rs(2 * rows), rl(rows), rg(rows * vocab);
  cpu::xent_parallel_max(rm.data(), logits.data(), rows, vocab);
  cpu::xent_parallel_stats(rs.data(), logits.data(), rm.data(), ti.data(), rows, vocab, 0);
  cpu::xent_parallel_loss(rl.data(), rs.data(), rm.data(), nullptr, rows);
  cpu::xent_parallel_backward(rg.data(), logits.data(), ti.data(), rm.data(), rs.data(), rows, vocab, 0, 0.5f);
  EXPECT_EQ(mx.download(), rm);
  expect_close(st.download(), rs, DType::fp32, "xent stats");
  expect_close(ls.download(), rl, DType::fp32, "xent parallel loss", 10.0);
  expect_close(g.download(), rg, DType::fp32, "xent parallel backward");
}

TEST(CudaKernels, EmbeddingGradientsAreTheCpusBitForBit) {
  CLUSTERSIM_REQUIRE_CUDA();
  for (std::int64_t shards : {1, 2}) {
    const cpu::EmbeddingShape s{.batch = 3, .seq = 8, .dim = 40, .vocab = 20, .vocab_offset = 10, .seq_shards = shards};
    const std::int64_t rows = s.batch * s.seq;
    std::vector<float> tokens(rows);
    for (std::int64_t r = 0; r < rows; ++r) tokens[static_cast<std::size_t>(r)] = static_cast<float>((r * 7) % 40);
    std::vector<std::int32_t> ti(tokens.begin(), tokens.end());
    const auto wte = random_floats(s.vocab * s.dim, 18), wpe = random_floats(s.seq * s.dim, 19);
    DeviceBuffer dt(tokens, DType::int32), dwte(wte, DType::fp32), dwpe(wpe, DType::fp32), x(rows * s.dim, DType::fp32);
    embedding_forward(x.t(), dt.i32(), dwte.c(), dwpe.c(), s, kStream);
    std::vector<float> rx(rows * s.dim);
    cpu::embedding_forward(rx.data(), ti.data(), wte.data(), wpe.data(), s);
    EXPECT_EQ(x.download(), rx);
    const auto dx = random_floats(rows * s.dim, 20);
    DeviceBuffer ddx(dx, DType::fp32);
    test::TestScratch scratch;
    embedding_backward(dwte.t(), dwpe.t(), ddx.c(), dt.i32(), s, scratch, kStream);
    auto rw = wte, rp = wpe;
    cpu::embedding_backward(rw.data(), rp.data(), dx.data(), ti.data(), s);
    EXPECT_EQ(dwte.download(), rw) << "the CPU's additions in the CPU's order";
    EXPECT_EQ(dwpe.download(), rp);
  }
  // position_add on natural rows with an offset
  const auto x = random_floats(2 * 5 * 16, 21), wpe = random_floats(12 * 16, 22);
  DeviceBuffer dx(x, DType::fp32), dw(wpe, DType::fp32);
  position_add_forward(dx.t(), dw.c(), 2, 5, 16, 3, kStream);
  auto rx = x;
  cpu::position_add_forward(rx.data(), wpe.data(), 2, 5, 16, 3);
  EXPECT_EQ(dx.download(), rx);
  position_add_backward(dw.t(), dx.c(), 2, 5, 16, 3, kStream);
  auto rw = wpe;
  cpu::position_add_backward(rw.data(), rx.data(), 2, 5, 16, 3);
  EXPECT_EQ(dw.download(), rw);
}

TEST(CudaKernels, OptimizersMatchTheCpuAndSkipOnTheFlag) {
  CLUSTERSIM_REQUIRE_CUDA();
  const std::int64_t n = 10007;
  const auto w = random_floats(n, 23), g = random_floats(n, 24), m0 = random_floats(n, 25, -0.01f, 0.01f);
  const auto v0 = random_floats(n, 26, 0.0f, 0.01f);
  const cpu::AdamWHyper h{.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f,
                          .grad_scale = 0.5f, .step = 3};
  DeviceBuffer master(w, DType::fp32), weight(n, DType::bf16), m(m0, DType::fp32), v(v0, DType::fp32),
      grad(rounded(g, DType::bf16), DType::bf16);
  OptimizerStep step;
  step.host_step = 3;
  adamw_update(weight.t(), master.t(), m.t(), v.t(), grad.c(), n, h, step, kStream);
  auto rw = w, rm = m0, rv = v0;
  const auto rg = rounded(g, DType::bf16);
  cpu::adamw_update(rw.data(), rm.data(), rv.data(), rg.data(), n, h);
  expect_close(master.download(), rw, DType::fp32, "adamw master", 5.0);
  expect_close(m.download(), rm, DType::fp32, "adamw m");
  expect_close(v.download(), rv, DType::fp32, "adamw v");
  expect_close(weight.download(), rounded(rw, DType::bf16), DType::bf16, "adamw weight");

  // a set flag: nothing changes and the device counter stays
  DeviceBuffer flag(std::vector<float>{1.0f}, DType::fp32);
  std::int64_t* counter = nullptr;
  CLUSTERSIM_TEST_CUDA(cudaMalloc(&counter, sizeof(std::int64_t)));
  CLUSTERSIM_TEST_CUDA(cudaMemset(counter, 0, sizeof(std::int64_t)));
  const auto before = master.download();
  step.found_inf = flag.f();
  step.counter = counter;
  adamw_update(weight.t(), master.t(), m.t(), v.t(), grad.c(), n, h, step, kStream);
  bump_step_counter(counter, flag.f(), kStream);
  EXPECT_EQ(master.download(), before);
  std::int64_t count = -1;
  CLUSTERSIM_TEST_CUDA(cudaMemcpy(&count, counter, sizeof count, cudaMemcpyDeviceToHost));
  EXPECT_EQ(count, 0);
  flag.upload({0.0f});
  bump_step_counter(counter, flag.f(), kStream);
  CLUSTERSIM_TEST_CUDA(cudaMemcpy(&count, counter, sizeof count, cudaMemcpyDeviceToHost));
  EXPECT_EQ(count, 1);
  cudaFree(counter);

  // SGD with momentum and weight decay
  const cpu::SgdHyper sh{.lr = 0.1f, .momentum = 0.9f, .weight_decay = 0.01f, .grad_scale = 1.0f};
  DeviceBuffer sm(w, DType::fp32), smom(m0, DType::fp32), sg(g, DType::fp32);
  sgd_update(sm.t(), sm.t(), smom.t(), sg.c(), n, sh, OptimizerStep{}, kStream);
  auto rsw = w, rsm = m0;
  cpu::sgd_update(rsw.data(), rsm.data(), g.data(), n, sh);
  expect_close(sm.download(), rsw, DType::fp32, "sgd");
  expect_close(smom.download(), rsm, DType::fp32, "sgd momentum");
}

TEST(CudaKernels, PoolsAreTheCpusBitForBit) {
  CLUSTERSIM_REQUIRE_CUDA();
  const cpu::PoolShape s{.batch = 2, .height = 13, .width = 10, .channels = 5};
  const std::int64_t nx = s.batch * s.height * s.width * s.channels, ny = s.batch * s.out_height() * s.out_width() * s.channels;
  auto x = random_floats(nx, 27);
  x[3] = x[8];  // a tie
  DeviceBuffer dx(x, DType::fp32), y(ny, DType::fp32), arg(ny, DType::int32), back(nx, DType::fp32);
  maxpool_forward(y.t(), arg.i32(), dx.c(), s, kStream);
  std::vector<float> ry(ny);
  std::vector<std::int32_t> ra(ny);
  cpu::maxpool_forward(ry.data(), ra.data(), x.data(), s);
  EXPECT_EQ(y.download(), ry);
  EXPECT_EQ(arg.download(), std::vector<float>(ra.begin(), ra.end()));
  const auto dy = random_floats(ny, 28);
  DeviceBuffer ddy(dy, DType::fp32);
  maxpool_backward(back.t(), ddy.c(), arg.i32(), s, kStream);
  std::vector<float> rb(nx);
  cpu::maxpool_backward(rb.data(), dy.data(), ra.data(), s);
  EXPECT_EQ(back.download(), rb);
  DeviceBuffer avg(s.batch * s.channels, DType::fp32), avg_back(nx, DType::fp32);
  global_avgpool_forward(avg.t(), dx.c(), s, kStream);
  std::vector<float> ravg(s.batch * s.channels), ravgb(nx);
  cpu::global_avgpool_forward(ravg.data(), x.data(), s);
  EXPECT_EQ(avg.download(), ravg);
  global_avgpool_backward(avg_back.t(), avg.c(), s, kStream);
  cpu::global_avgpool_backward(ravgb.data(), ravg.data(), s);
  EXPECT_EQ(avg_back.download(), ravgb);
}

TEST(CudaKernels, NormalInitIsTheShardOfTheUnshardedTensor) {
  CLUSTERSIM_REQUIRE_CUDA();
  // full (4, 6, 3) split on dim 1 in two: shard 1 holds full[:, 3:6, :]
  const std::uint64_t key = derive_key(1, 42);
  DeviceBuffer full(72, DType::fp32), shard(36, DType::fp32);
  normal_init(full.t(), {.key = key, .std = 0.5, .outer = 1, .mid = 72, .inner = 1, .full_mid = 72, .shard = 0},
              kStream);
  normal_init(shard.t(), {.key = key, .std = 0.5, .outer = 4, .mid = 3, .inner = 3, .full_mid = 6, .shard = 1},
              kStream);
  const auto f = full.download(), s = shard.download();
  for (std::int64_t i = 0; i < 72; ++i)
    EXPECT_NEAR(f[static_cast<std::size_t>(i)], 0.5 * normal01(key, static_cast<std::uint64_t>(i)), 1e-6);
  for (std::int64_t o = 0; o < 4; ++o)
    for (std::int64_t j = 0; j < 3; ++j)
      for (std::int64_t k = 0; k < 3; ++k)
        EXPECT_EQ(s[static_cast<std::size_t>((o * 3 + j) * 3 + k)], f[static_cast<std::size_t>((o * 6 + 3 + j) * 3 + k)]);
}

}  // namespace
}  // namespace clustersim::executor::cuda
