// Device tests of cuda/gemm.hpp against cpu::gemm_forward on the same (rounded) operands: every
// transposition, bias and accumulation, batches, operand precisions fp32, tf32, bf16, fp16 (and fp8
// on compute capability >= 8.9), mixed operand dtypes, an output dtype cuBLASLt cannot write
// directly, and unaligned views. Label gpu.
#include <gtest/gtest.h>

#include "clustersim/executor/cpu/gemm.hpp"
#include "clustersim/executor/cuda/gemm.hpp"
#include "cuda_test_util.hpp"

namespace clustersim::executor::cuda {
namespace {

using executor::test::random_floats;
using test::DeviceBuffer;
using test::rounded;

struct Case {
  std::int64_t m, n, k, batch;
  bool ta, tb, acc, bias;
};

// Runs one GEMM on the device and on the CPU; returns the norm-wise relative error.
double gemm_error(const Case& c, DType a_t, DType b_t, DType c_t, DType math, std::uint32_t seed,
                  std::int64_t c_offset = 0) {
  const std::int64_t na = c.batch * c.m * c.k, nb = c.batch * c.k * c.n, nc = c.batch * c.m * c.n;
  const auto a = rounded(random_floats(static_cast<std::size_t>(na), seed), a_t);
  const auto b = rounded(random_floats(static_cast<std::size_t>(nb), seed + 1), b_t);
  const auto bias = rounded(random_floats(static_cast<std::size_t>(c.n), seed + 2), c_t);
  auto c0 = rounded(random_floats(static_cast<std::size_t>(nc + c_offset), seed + 3), c_t);
  DeviceBuffer da(a, a_t), db(b, b_t), dbias(bias, c_t), dc(c0, c_t);
  GemmEngine engine;
  test::TestScratch scratch;
  GemmOperands o;
  o.a = da.c();
  o.b = db.c();
  if (c.bias) o.bias = dbias.c();
  o.c = {static_cast<std::byte*>(dc.t().data) + c_offset * dtype_bytes(c_t), c_t};
  const cpu::GemmShape s{.m = c.m, .n = c.n, .k = c.k, .batch = c.batch, .trans_a = c.ta, .trans_b = c.tb,
                         .accumulate = c.acc};
  engine.run(s, math, o, scratch, nullptr);
  std::vector<float> ref(c0.begin() + c_offset, c0.end());
  cpu::gemm_forward(ref.data(), a.data(), b.data(), c.bias ? bias.data() : nullptr, s);
  const auto got = dc.download();
  return executor::test::rel_error(std::vector<float>(got.begin() + c_offset, got.end()),
                                   executor::test::to_double(rounded(ref, c_t)), 1e-6);
}

TEST(CudaGemm, EveryLayoutBiasAndAccumulation) {
  CLUSTERSIM_REQUIRE_CUDA();
  std::uint32_t seed = 100;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (bool acc : {false, true})
        for (bool bias : {false, true}) {
          const Case c{48, 80, 64, 1, ta, tb, acc, bias};
          for (DType d : {DType::fp32, DType::bf16, DType::fp16}) {
            const double err = gemm_error(c, d, d, d, d, seed++);
            EXPECT_LE(err, d == DType::fp32 ? 1e-5 : test::tolerance(d))
                << to_string(d) << " ta " << ta << " tb " << tb << " acc " << acc << " bias " << bias;
          }
        }
}

TEST(CudaGemm, BatchesOddShapesAndTf32) {
  CLUSTERSIM_REQUIRE_CUDA();
  EXPECT_LE(gemm_error({17, 33, 9, 3, false, true, true, true}, DType::fp32, DType::fp32, DType::fp32, DType::fp32, 7),
            1e-5);
  EXPECT_LE(gemm_error({64, 64, 256, 2, true, false, false, false}, DType::fp32, DType::fp32, DType::fp32, DType::tf32, 8),
            5e-3)
      << "TF32 keeps 10 mantissa bits";
  EXPECT_LE(gemm_error({5, 7, 0, 1, false, false, false, true}, DType::bf16, DType::bf16, DType::bf16, DType::bf16, 9),
            1e-6)
      << "k = 0: C = bias";
}

TEST(CudaGemm, MixedDtypesAndStagedOutputs) {
  CLUSTERSIM_REQUIRE_CUDA();
  const Case c{32, 48, 40, 1, false, true, true, true};
  EXPECT_LE(gemm_error(c, DType::bf16, DType::fp32, DType::fp32, DType::bf16, 11), 1e-5) << "widened to fp32";
  EXPECT_LE(gemm_error(c, DType::bf16, DType::bf16, DType::fp32, DType::bf16, 12), 1e-5) << "bf16 -> fp32 output";
  EXPECT_LE(gemm_error(c, DType::bf16, DType::bf16, DType::fp16, DType::bf16, 13), test::tolerance(DType::fp16))
      << "staged fp32 output converted to fp16";
  EXPECT_LE(gemm_error(c, DType::fp16, DType::fp16, DType::fp16, DType::fp16, 14, 3), test::tolerance(DType::fp16))
      << "C at an unaligned offset";
}

TEST(CudaGemm, Fp8OperandsOnAnyDevice) {
  CLUSTERSIM_REQUIRE_CUDA();
  // fp8 tensor cores where the device has them (else exact widening to bf16); every layout
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const Case c{64, 96, 128, 1, ta, tb, true, false};
      const double e = gemm_error(c, DType::fp8_e4m3, DType::fp8_e4m3, DType::bf16, DType::fp8_e4m3, 20);
      EXPECT_LE(e, test::tolerance(DType::bf16)) << "e4m3 x e4m3 ta " << ta << " tb " << tb;
      const double f = gemm_error(c, DType::fp8_e5m2, DType::fp8_e4m3, DType::bf16, DType::fp8_e4m3, 21);
      EXPECT_LE(f, test::tolerance(DType::bf16)) << "e5m2 x e4m3 ta " << ta << " tb " << tb;
    }
  EXPECT_LE(gemm_error({16, 16, 16, 1, false, true, false, false}, DType::fp8_e5m2, DType::fp8_e5m2, DType::fp32,
                       DType::fp8_e5m2, 22),
            1e-5)
      << "e5m2 x e5m2 has no fp8 kernel: widened exactly";
}

}  // namespace
}  // namespace clustersim::executor::cuda
