// Scalar conversions between fp32 and the narrow floating-point storage formats the Plan names
// (bf16, fp16, fp8 e4m3, fp8 e5m2). Header-only and free of library state so the CUDA backend can
// compile the very same functions for the device and match the CPU kernels bit for bit.
//
// Rounding: every fp32 -> narrow conversion rounds to nearest, ties to even.
//   bf16:      IEEE-like (8-bit exponent); NaN stays NaN (quiet), overflow cannot happen.
//   fp16:      IEEE binary16; values >= 65520 in magnitude become +-inf; subnormals kept.
//   fp8_e4m3:  OCP "E4M3FN" (bias 7, no infinity, S.1111.111 = NaN, max 448). Saturating, like
//              CUDA's __NV_SATFINITE: finite or infinite values beyond 448 become +-448; NaN -> NaN.
//   fp8_e5m2:  OCP "E5M2" (bias 15, IEEE-like, max 57344). Saturating as above: +-inf and overflow
//              become +-57344; NaN -> NaN.
// Narrow -> fp32 is exact.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define CLUSTERSIM_HD __host__ __device__
#else
#define CLUSTERSIM_HD
#endif

namespace clustersim::executor {

CLUSTERSIM_HD inline std::uint32_t float_bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

CLUSTERSIM_HD inline float bits_float(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// --- bf16: the upper half of an fp32 ---------------------------------------------------------------
CLUSTERSIM_HD inline std::uint16_t float_to_bf16(float f) {
  std::uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x0040u);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}

CLUSTERSIM_HD inline float bf16_to_float(std::uint16_t h) {
  return bits_float(static_cast<std::uint32_t>(h) << 16);
}

// --- generic small IEEE-like formats ---------------------------------------------------------------
// Encodes fp32 into a format with `ebits` exponent bits, `mbits` mantissa bits and exponent `bias`.
// `max_code` is the largest finite magnitude code; `overflow_code` what larger magnitudes become
// (the infinity code, or max_code when saturating); `nan_code` the magnitude code of NaN.
CLUSTERSIM_HD inline std::uint32_t encode_small_float(float f, int ebits, int mbits, int bias, std::uint32_t max_code,
                                                      std::uint32_t overflow_code, std::uint32_t nan_code) {
  const std::uint32_t u = float_bits(f);
  const std::uint32_t sign = (u >> 31) << (ebits + mbits);
  const std::uint32_t ax = u & 0x7fffffffu;
  if (ax > 0x7f800000u) return sign | nan_code;
  if (ax == 0x7f800000u) return sign | overflow_code;
  const int e = static_cast<int>(ax >> 23);
  if (e == 0) return sign;  // fp32 subnormals are far below every narrow format's smallest subnormal
  const int unbiased = e - 127;
  const std::uint64_t m = (ax & 0x7fffffu) | 0x800000u;  // 24 significant bits
  std::uint64_t code;
  int shift;
  if (unbiased >= 1 - bias) {  // normal in the target format
    shift = 23 - mbits;
    const std::uint64_t top = static_cast<std::uint64_t>(unbiased + bias);
    if (top >= (1u << ebits)) return sign | overflow_code;
    code = (top << mbits) | ((m >> shift) & ((1u << mbits) - 1u));
  } else {  // subnormal in the target format: units of 2^(1 - bias - mbits)
    shift = (23 - mbits) + (1 - bias - unbiased);
    if (shift > 25) return sign;
    code = m >> shift;
  }
  const std::uint64_t rem = m & ((std::uint64_t{1} << shift) - 1u);
  const std::uint64_t half = std::uint64_t{1} << (shift - 1);
  if (rem > half || (rem == half && (code & 1u))) ++code;  // a carry into the exponent is correct
  if (code > max_code) return sign | overflow_code;
  return sign | static_cast<std::uint32_t>(code);
}

// Decodes a small-format code; `has_inf` formats use the all-ones exponent for inf/NaN, others
// (e4m3fn) use only `nan_code` for NaN.
CLUSTERSIM_HD inline float decode_small_float(std::uint32_t code, int ebits, int mbits, int bias, bool has_inf,
                                              std::uint32_t nan_code) {
  const std::uint32_t sign_bit = 1u << (ebits + mbits);
  const bool negative = (code & sign_bit) != 0;
  const std::uint32_t mag = code & (sign_bit - 1u);
  const std::uint32_t ef = mag >> mbits;
  const std::uint32_t mf = mag & ((1u << mbits) - 1u);
  float v;
  if (has_inf && ef == (1u << ebits) - 1u) {
    v = mf == 0 ? INFINITY : NAN;
  } else if (!has_inf && mag == nan_code) {
    v = NAN;
  } else if (ef == 0) {
    v = std::ldexp(static_cast<float>(mf), 1 - bias - mbits);
  } else {
    v = std::ldexp(static_cast<float>(mf | (1u << mbits)), static_cast<int>(ef) - bias - mbits);
  }
  return negative ? -v : v;
}

// --- fp16 (IEEE binary16) ----------------------------------------------------------------------------
CLUSTERSIM_HD inline std::uint16_t float_to_fp16(float f) {
  return static_cast<std::uint16_t>(encode_small_float(f, 5, 10, 15, 0x7bffu, 0x7c00u, 0x7e00u));
}
// Exact bit construction (the hot path of fp16 staging); equals decode_small_float(h, 5, 10, 15, true, ..).
CLUSTERSIM_HD inline float fp16_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0x1fu) return bits_float(sign | 0x7f800000u | (m << 13));  // inf, NaN (payload kept)
  if (e != 0) return bits_float(sign | ((e + 112u) << 23) | (m << 13));
  const float v = static_cast<float>(m) * 5.9604644775390625e-08f;  // subnormal: m * 2^-24, exact
  return sign != 0 ? -v : v;
}

// --- fp8 ---------------------------------------------------------------------------------------------
CLUSTERSIM_HD inline std::uint8_t float_to_fp8_e4m3(float f) {
  return static_cast<std::uint8_t>(encode_small_float(f, 4, 3, 7, 0x7eu, 0x7eu, 0x7fu));
}
CLUSTERSIM_HD inline float fp8_e4m3_to_float(std::uint8_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x80u) << 24;
  const std::uint32_t e = (h >> 3) & 0xfu, m = h & 0x7u;
  if ((h & 0x7fu) == 0x7fu) return bits_float(sign | 0x7fc00000u);  // NaN
  if (e != 0) return bits_float(sign | ((e + 120u) << 23) | (m << 20));
  const float v = static_cast<float>(m) * 0.001953125f;  // subnormal: m * 2^-9, exact
  return sign != 0 ? -v : v;
}

CLUSTERSIM_HD inline std::uint8_t float_to_fp8_e5m2(float f) {
  return static_cast<std::uint8_t>(encode_small_float(f, 5, 2, 15, 0x7bu, 0x7bu, 0x7eu));
}
// e5m2 is the upper byte of fp16.
CLUSTERSIM_HD inline float fp8_e5m2_to_float(std::uint8_t h) {
  return fp16_to_float(static_cast<std::uint16_t>(h << 8));
}

}  // namespace clustersim::executor
