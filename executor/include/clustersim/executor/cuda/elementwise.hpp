// CUDA kernels for the Plan's memory-bound elementwise names (mirrors cpu/activation.hpp,
// cpu/dropout.hpp, cpu/misc.hpp, cpu/cast.hpp) and the fills the interpreter needs for tensor
// initialisation. Device pointers, any float storage dtype in float slots (device.hpp), results
// equal to the CPU kernels on the same values up to the last bit of transcendental functions:
// additions, scalings, casts, masks and rotations' arithmetic round exactly as on the CPU.
#pragma once

#include <cstdint>

#include "clustersim/executor/cpu/activation.hpp"
#include "clustersim/executor/cuda/device.hpp"

namespace clustersim::executor::cuda {

// out = a + b (out may alias a or b).
void residual_add(DeviceTensor out, ConstDeviceTensor a, ConstDeviceTensor b, std::int64_t n, DeviceStream stream);
// out += a.
void add_inplace(DeviceTensor out, ConstDeviceTensor a, std::int64_t n, DeviceStream stream);
// x *= s.
void scale_inplace(DeviceTensor x, std::int64_t n, float s, DeviceStream stream);
// x[r, j] += bias[j].
void bias_add(DeviceTensor x, ConstDeviceTensor bias, std::int64_t rows, std::int64_t n, DeviceStream stream);
// y[r, j] = bias[j] (+ y[r, j] when accumulate): the bias pre-fill of a GEMM without a bias epilogue.
void bias_fill(DeviceTensor y, ConstDeviceTensor bias, std::int64_t rows, std::int64_t n, bool accumulate,
               DeviceStream stream);
// y = x converted between float dtypes (a cast; numeric.hpp rounding, fp8 saturating). y may be x.
void convert(DeviceTensor y, ConstDeviceTensor x, std::int64_t n, DeviceStream stream);
// y[i] = value for a float dtype, or an integer dtype (int32, int64, uint8).
void fill(DeviceTensor y, std::int64_t n, double value, DeviceStream stream);

// Normal initialisation (worker.hpp's TensorInit::normal): element i of the local tensor is
// element full_index(i) of the unsharded one, value = std * normal01(key, full_index) (rng.hpp).
// Local layout (outer, mid, inner) with the sharded dimension `mid` of the full size full_mid at
// slice `shard`; unsharded: outer = inner = 1, mid = full_mid = n, shard = 0.
struct NormalInit {
  std::uint64_t key = 0;
  double std = 0.02;
  std::int64_t outer = 1, mid = 0, inner = 1, full_mid = 0, shard = 0;
};
void normal_init(DeviceTensor y, const NormalInit& init, DeviceStream stream);

void gelu_forward(DeviceTensor y, ConstDeviceTensor x, std::int64_t n, DeviceStream stream);
void gelu_backward(DeviceTensor dx, ConstDeviceTensor x, ConstDeviceTensor dy, std::int64_t n, DeviceStream stream);
void relu_forward(DeviceTensor y, ConstDeviceTensor x, std::int64_t n, DeviceStream stream);
void relu_backward(DeviceTensor dx, ConstDeviceTensor y, ConstDeviceTensor dy, std::int64_t n, DeviceStream stream);
void swiglu_forward(DeviceTensor y, ConstDeviceTensor x, std::int64_t rows, std::int64_t f, DeviceStream stream);
void swiglu_backward(DeviceTensor dx, ConstDeviceTensor x, ConstDeviceTensor dy, std::int64_t rows, std::int64_t f,
                     DeviceStream stream);

// Dropout with the mask of rng.hpp: element i kept when dropout_keep(key, i, p); bit-identical masks
// to cpu::dropout_forward.
void dropout_forward(DeviceTensor y, std::uint8_t* mask, ConstDeviceTensor x, std::int64_t n, float p,
                     std::uint64_t key, DeviceStream stream);
void dropout_backward(DeviceTensor dx, ConstDeviceTensor dy, const std::uint8_t* mask, std::int64_t n, float p,
                      DeviceStream stream);

// Rotary embedding, cpu::RopeShape conventions (rotate half, shard-major rows). The cos/sin table is
// computed in double as on the CPU, into scratch. out may alias qkv.
void rope_forward(DeviceTensor out, ConstDeviceTensor qkv, const cpu::RopeShape& shape, DeviceScratch& scratch,
                  DeviceStream stream);
void rope_backward(DeviceTensor dx, ConstDeviceTensor dy, const cpu::RopeShape& shape, DeviceScratch& scratch,
                   DeviceStream stream);

// Spins the stream for `ns` nanoseconds of device time (the plan's delay op).
void device_delay(std::int64_t ns, DeviceStream stream);

// dst[i] = src[i] + dst[i] for int32 or int64 (accumulating reduce-scatter of integer buffers).
void add_integers(void* dst, const void* src, DType dtype, std::int64_t n, DeviceStream stream);

// For fp8 GEMMs: out(cols x rows) = in(rows x cols)^T for 1-byte elements, `batch` matrices.
void transpose_bytes(void* out, const void* in, std::int64_t rows, std::int64_t cols, std::int64_t batch,
                     DeviceStream stream);

}  // namespace clustersim::executor::cuda
