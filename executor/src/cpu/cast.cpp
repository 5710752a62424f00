// Conversions between the float storage dtypes, through fp32 (exact for every narrow format, so a
// narrow -> narrow cast rounds once).
#include "clustersim/executor/cpu/cast.hpp"

#include <cstring>
#include <string>

#include "clustersim/executor/numeric.hpp"

namespace clustersim::executor::cpu {

namespace {

void check_float(DType d) {
  if (!is_float_dtype(d))
    throw InputError("cast.dtype", "\"" + std::string(to_string(d)) + "\"",
                     "a float dtype: \"fp32\", \"tf32\", \"bf16\", \"fp16\", \"fp8_e4m3\" or \"fp8_e5m2\"");
}

}  // namespace

bool is_float_dtype(DType d) {
  switch (d) {
    case DType::fp32:
    case DType::tf32:
    case DType::bf16:
    case DType::fp16:
    case DType::fp8_e4m3:
    case DType::fp8_e5m2:
      return true;
    default:
      return false;
  }
}

void cast_to_float(float* y, const void* x, DType from, std::int64_t n) {
  check_float(from);
  switch (from) {
    case DType::bf16: {
      const auto* s = static_cast<const std::uint16_t*>(x);
      for (std::int64_t i = 0; i < n; ++i) y[i] = bf16_to_float(s[i]);
      return;
    }
    case DType::fp16: {
      const auto* s = static_cast<const std::uint16_t*>(x);
      for (std::int64_t i = 0; i < n; ++i) y[i] = fp16_to_float(s[i]);
      return;
    }
    case DType::fp8_e4m3: {
      const auto* s = static_cast<const std::uint8_t*>(x);
      for (std::int64_t i = 0; i < n; ++i) y[i] = fp8_e4m3_to_float(s[i]);
      return;
    }
    case DType::fp8_e5m2: {
      const auto* s = static_cast<const std::uint8_t*>(x);
      for (std::int64_t i = 0; i < n; ++i) y[i] = fp8_e5m2_to_float(s[i]);
      return;
    }
    default:
      if (y != x) std::memmove(y, x, static_cast<std::size_t>(n) * sizeof(float));
  }
}

void cast_from_float(void* y, DType to, const float* x, std::int64_t n) {
  check_float(to);
  switch (to) {
    case DType::bf16: {
      auto* d = static_cast<std::uint16_t*>(y);
      for (std::int64_t i = 0; i < n; ++i) d[i] = float_to_bf16(x[i]);
      return;
    }
    case DType::fp16: {
      auto* d = static_cast<std::uint16_t*>(y);
      for (std::int64_t i = 0; i < n; ++i) d[i] = float_to_fp16(x[i]);
      return;
    }
    case DType::fp8_e4m3: {
      auto* d = static_cast<std::uint8_t*>(y);
      for (std::int64_t i = 0; i < n; ++i) d[i] = float_to_fp8_e4m3(x[i]);
      return;
    }
    case DType::fp8_e5m2: {
      auto* d = static_cast<std::uint8_t*>(y);
      for (std::int64_t i = 0; i < n; ++i) d[i] = float_to_fp8_e5m2(x[i]);
      return;
    }
    default:
      if (y != x) std::memmove(y, x, static_cast<std::size_t>(n) * sizeof(float));
  }
}

void cast_convert(void* y, DType to, const void* x, DType from, std::int64_t n) {
  check_float(from);
  check_float(to);
  const bool from_f32 = from == DType::fp32 || from == DType::tf32;
  const bool to_f32 = to == DType::fp32 || to == DType::tf32;
  if (from_f32) {
    cast_from_float(y, to, static_cast<const float*>(x), n);
    return;
  }
  if (to_f32) {
    cast_to_float(static_cast<float*>(y), x, from, n);
    return;
  }
  constexpr std::int64_t kChunk = 4096;
  float tmp[kChunk];
  const std::int64_t in_size = dtype_bytes(from), out_size = dtype_bytes(to);
  for (std::int64_t i = 0; i < n; i += kChunk) {
    const std::int64_t len = n - i < kChunk ? n - i : kChunk;
    cast_to_float(tmp, static_cast<const char*>(x) + i * in_size, from, len);
    cast_from_float(static_cast<char*>(y) + i * out_size, to, tmp, len);
  }
}

}  // namespace clustersim::executor::cpu
