// CPU cast kernels for the Plan's `cast` op and for the interpreter's conversion of narrow storage
// dtypes to fp32 at kernel boundaries. Float formats only: fp32, tf32 (stored as fp32, unchanged),
// bf16, fp16, fp8_e4m3, fp8_e5m2; rounding as in numeric.hpp (nearest, ties to even; fp8 saturates).
#pragma once

#include <cstdint>

#include "clustersim/plan/types.hpp"

namespace clustersim::executor::cpu {

// True for the dtypes these conversions handle.
bool is_float_dtype(DType dtype);

// y (dtype `to`) = x (dtype `from`) for n elements. Throws InputError for non-float dtypes.
void cast_convert(void* y, DType to, const void* x, DType from, std::int64_t n);
void cast_to_float(float* y, const void* x, DType from, std::int64_t n);
void cast_from_float(void* y, DType to, const float* x, std::int64_t n);

}  // namespace clustersim::executor::cpu
