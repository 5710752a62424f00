// Tests for numeric.hpp (narrow float formats), cast.hpp and rng.hpp: conversions against an
// independent float64 rounding reference, round trips, edge cases, Philox known answers and the
// determinism of counter-based draws.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "clustersim/executor/cpu/cast.hpp"
#include "clustersim/executor/numeric.hpp"
#include "clustersim/executor/rng.hpp"

namespace clustersim::executor {
namespace {

// Round `x` to a format with `mbits` mantissa bits and smallest normal exponent `emin`, nearest-even,
// computed in double (exact for fp32 inputs). Beyond `max_finite`: `overflow` (inf or saturation).
double reference_round(double x, int mbits, int emin, double max_finite, double overflow) {
  if (std::isnan(x)) return x;
  if (x == 0.0) return x;
  const double a = std::abs(x);
  if (std::isinf(a)) return std::copysign(overflow, x);
  int e2 = 0;
  std::frexp(a, &e2);
  const int e = std::max(e2 - 1, emin);
  const double quantum = std::ldexp(1.0, e - mbits);
  double q = std::nearbyint(a / quantum) * quantum;  // default rounding mode: ties to even
  if (q > max_finite) q = overflow;
  return std::copysign(q, x);
}

std::vector<float> probe_values() {
  std::vector<float> v = {0.0f,
                          -0.0f,
                          1.0f,
                          -1.0f,
                          0.5f,
                          1.5f,
                          3.0f,
                          65504.0f,
                          65519.0f,
                          65520.0f,
                          65536.0f,
                          448.0f,
                          464.0f,
                          480.0f,
                          57344.0f,
                          61440.0f,
                          1e-8f,
                          6e-8f,
                          5.96e-8f,
                          2.98e-8f,
                          1.0f / 512.0f,
                          1.0f / 1024.0f,
                          0.0009765625f * 1.5f,
                          3.4e38f,
                          1e-30f,
                          1.17549435e-38f,
                          INFINITY,
                          -INFINITY};
  std::mt19937 gen(7);
  std::uniform_real_distribution<float> mant(1.0f, 2.0f);
  std::uniform_int_distribution<int> ex(-30, 20);
  for (int i = 0; i < 20000; ++i) v.push_back((i % 2 ? -1.0f : 1.0f) * std::ldexp(mant(gen), ex(gen)));
  // exact ties for fp16 (mantissa bit 13 set, lower bits clear) and bf16
  for (int i = 0; i < 200; ++i) {
    std::uint32_t u = 0x3f800000u + (static_cast<std::uint32_t>(i) << 13) + 0x1000u;
    float f;
    std::memcpy(&f, &u, 4);
    v.push_back(f);
    u = 0x3f800000u + (static_cast<std::uint32_t>(i) << 16) + 0x8000u;
    std::memcpy(&f, &u, 4);
    v.push_back(f);
  }
  return v;
}

TEST(Numeric, Bf16MatchesReferenceRounding) {
  for (float x : probe_values()) {
    if (std::isinf(x)) {
      EXPECT_EQ(bf16_to_float(float_to_bf16(x)), x);
      continue;
    }
    const double expected = reference_round(x, 7, -126, 3.3895313892515355e38, INFINITY);
    EXPECT_EQ(static_cast<double>(bf16_to_float(float_to_bf16(x))), expected) << "x = " << x;
  }
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(NAN))));
}

TEST(Numeric, Fp16MatchesReferenceRounding) {
  for (float x : probe_values()) {
    const double expected = reference_round(x, 10, -14, 65504.0, INFINITY);
    EXPECT_EQ(static_cast<double>(fp16_to_float(float_to_fp16(x))), expected) << "x = " << x;
  }
  EXPECT_TRUE(std::isnan(fp16_to_float(float_to_fp16(NAN))));
  EXPECT_EQ(float_to_fp16(1.0f), 0x3c00);
  EXPECT_EQ(float_to_fp16(65504.0f), 0x7bff);
  EXPECT_EQ(float_to_fp16(-2.0f), 0xc000);
  EXPECT_EQ(float_to_fp16(5.9604644775390625e-8f), 0x0001);  // smallest subnormal
}

TEST(Numeric, Fp8E4m3MatchesReferenceRoundingAndSaturates) {
  for (float x : probe_values()) {
    const double expected = reference_round(x, 3, -6, 448.0, 448.0);
    EXPECT_EQ(static_cast<double>(fp8_e4m3_to_float(float_to_fp8_e4m3(x))), expected) << "x = " << x;
  }
  EXPECT_EQ(float_to_fp8_e4m3(448.0f), 0x7e);
  EXPECT_EQ(float_to_fp8_e4m3(1e9f), 0x7e);
  EXPECT_EQ(float_to_fp8_e4m3(-INFINITY), 0xfe);
  EXPECT_TRUE(std::isnan(fp8_e4m3_to_float(float_to_fp8_e4m3(NAN))));
  EXPECT_EQ(fp8_e4m3_to_float(0x01), std::ldexp(1.0f, -9));  // smallest subnormal
}

TEST(Numeric, Fp8E5m2MatchesReferenceRoundingAndSaturates) {
  for (float x : probe_values()) {
    const double expected = reference_round(x, 2, -14, 57344.0, 57344.0);
    EXPECT_EQ(static_cast<double>(fp8_e5m2_to_float(float_to_fp8_e5m2(x))), expected) << "x = " << x;
  }
  EXPECT_EQ(float_to_fp8_e5m2(INFINITY), 0x7b);
  EXPECT_TRUE(std::isnan(fp8_e5m2_to_float(float_to_fp8_e5m2(NAN))));
  EXPECT_TRUE(std::isinf(fp8_e5m2_to_float(0x7c)));
}

TEST(Numeric, EveryNarrowCodeRoundTrips) {
  for (std::uint32_t c = 0; c < 65536; ++c) {
    const float f = fp16_to_float(static_cast<std::uint16_t>(c));
    if (!std::isnan(f)) {
      EXPECT_EQ(float_to_fp16(f), c);
    }
    const float b = bf16_to_float(static_cast<std::uint16_t>(c));
    if (!std::isnan(b)) {
      EXPECT_EQ(float_to_bf16(b), c);
    }
  }
  for (std::uint32_t c = 0; c < 256; ++c) {
    const float a = fp8_e4m3_to_float(static_cast<std::uint8_t>(c));
    if (!std::isnan(a)) {
      EXPECT_EQ(float_to_fp8_e4m3(a), c);
    }
    const float b = fp8_e5m2_to_float(static_cast<std::uint8_t>(c));
    if (std::isfinite(b)) {
      EXPECT_EQ(float_to_fp8_e5m2(b), c);
    }  // +-inf saturate by design
  }
}

TEST(Numeric, FastDecodersEqualTheGenericDecoder) {
  auto same = [](float a, float b) { return (std::isnan(a) && std::isnan(b)) || float_bits(a) == float_bits(b); };
  for (std::uint32_t c = 0; c < 65536; ++c)
    EXPECT_TRUE(same(fp16_to_float(static_cast<std::uint16_t>(c)), decode_small_float(c, 5, 10, 15, true, 0x7e00u)))
        << c;
  for (std::uint32_t c = 0; c < 256; ++c) {
    EXPECT_TRUE(same(fp8_e4m3_to_float(static_cast<std::uint8_t>(c)), decode_small_float(c, 4, 3, 7, false, 0x7fu)))
        << c;
    EXPECT_TRUE(same(fp8_e5m2_to_float(static_cast<std::uint8_t>(c)), decode_small_float(c, 5, 2, 15, true, 0x7eu)))
        << c;
  }
}

TEST(Cast, ConvertsBetweenStorageTypes) {
  const std::vector<float> x = {1.0f, -2.5f, 1.00390625f, 3.14159265f, 1000.0f};
  std::vector<std::uint16_t> bf(x.size()), hf(x.size());
  cpu::cast_convert(bf.data(), DType::bf16, x.data(), DType::fp32, static_cast<std::int64_t>(x.size()));
  cpu::cast_convert(hf.data(), DType::fp16, bf.data(), DType::bf16, static_cast<std::int64_t>(x.size()));
  std::vector<float> back(x.size());
  cpu::cast_convert(back.data(), DType::fp32, hf.data(), DType::fp16, static_cast<std::int64_t>(x.size()));
  for (std::size_t i = 0; i < x.size(); ++i) {
    // bf16 keeps 8 significant bits; every bf16 value of this size is exact in fp16
    EXPECT_EQ(back[i], bf16_to_float(float_to_bf16(x[i])));
  }
  EXPECT_EQ(back[2], 1.0f);  // 1 + 2^-8 is a tie in bf16 and rounds to even
  std::vector<std::uint8_t> f8(x.size());
  cpu::cast_convert(f8.data(), DType::fp8_e4m3, x.data(), DType::fp32, static_cast<std::int64_t>(x.size()));
  EXPECT_EQ(fp8_e4m3_to_float(f8[4]), 448.0f);  // saturated
  EXPECT_THROW(cpu::cast_convert(f8.data(), DType::int32, x.data(), DType::fp32, 1), InputError);
}

TEST(Rng, PhiloxKnownAnswers) {
  // Random123 kat_vectors (Salmon et al., SC'11).
  EXPECT_EQ(philox4x32_10({0, 0, 0, 0}, {0, 0}), (PhiloxBlock{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}));
  EXPECT_EQ(philox4x32_10({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu}),
            (PhiloxBlock{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}));
  EXPECT_EQ(philox4x32_10({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, {0xa4093822u, 0x299f31d0u}),
            (PhiloxBlock{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}));
}

TEST(Rng, DrawsDependOnlyOnKeyAndCounter) {
  const std::uint64_t key = derive_key(42, 7, 3);
  EXPECT_EQ(key, derive_key(42, 7, 3));
  EXPECT_NE(key, derive_key(42, 3, 7));
  EXPECT_EQ(uniform01(key, 123456789), uniform01(key, 123456789));
  // moments of the normal draw: mean 0, variance 1 (100k samples: 5 sigma bounds)
  double s = 0.0, s2 = 0.0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    const double z = normal01(key, static_cast<std::uint64_t>(i));
    s += z;
    s2 += z * z;
  }
  EXPECT_NEAR(s / n, 0.0, 5.0 / std::sqrt(n));
  EXPECT_NEAR(s2 / n, 1.0, 5.0 * std::sqrt(2.0 / n));
  // uniform in [0,1) with mean 1/2
  double u = 0.0;
  for (int i = 0; i < n; ++i) {
    const float v = uniform01(key, static_cast<std::uint64_t>(i));
    ASSERT_GE(v, 0.0f);
    ASSERT_LT(v, 1.0f);
    u += v;
  }
  EXPECT_NEAR(u / n, 0.5, 5.0 * std::sqrt(1.0 / 12.0 / n));
}

}  // namespace
}  // namespace clustersim::executor
