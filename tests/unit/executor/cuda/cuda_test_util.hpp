// Helpers of the CUDA backend's device tests: the skip when no device is visible, device buffers
// filled from host values in any storage dtype and read back as fp32, a scratch implementation, and
// comparisons with tolerances per storage precision.
#pragma once

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "../kernel_test_util.hpp"
#include "clustersim/executor/cpu/cast.hpp"
#include "clustersim/executor/cuda/backend.hpp"
#include "clustersim/executor/cuda/device.hpp"

// Skips the test with "no CUDA device: <why>" when no device can be used.
#define CLUSTERSIM_REQUIRE_CUDA()                                                      \
  do {                                                                                 \
    std::string clustersim_why_;                                                       \
    if (!::clustersim::executor::cuda_available(&clustersim_why_)) GTEST_SKIP() << clustersim_why_; \
  } while (0)

#define CLUSTERSIM_TEST_CUDA(expr) ASSERT_EQ((expr), cudaSuccess) << #expr

namespace clustersim::executor::cuda::test {

// A device buffer of `n` elements stored as `dtype`.
class DeviceBuffer {
 public:
  DeviceBuffer(std::int64_t n, DType dtype) : n_(n), dtype_(dtype) {
    const std::size_t bytes = std::max<std::size_t>(static_cast<std::size_t>(n * dtype_bytes(dtype)), 16);
    if (cudaMalloc(&data_, bytes) != cudaSuccess) throw std::runtime_error("cudaMalloc failed in a test");
    cudaMemset(data_, 0, bytes);
  }
  DeviceBuffer(const std::vector<float>& values, DType dtype) : DeviceBuffer(static_cast<std::int64_t>(values.size()), dtype) {
    upload(values);
  }
  ~DeviceBuffer() { cudaFree(data_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void upload(const std::vector<float>& values) {
    std::vector<std::byte> raw(static_cast<std::size_t>(n_ * dtype_bytes(dtype_)));
    if (dtype_ == DType::int32) {
      for (std::size_t i = 0; i < values.size(); ++i)
        reinterpret_cast<std::int32_t*>(raw.data())[i] = static_cast<std::int32_t>(values[i]);
    } else if (dtype_ == DType::uint8) {
      for (std::size_t i = 0; i < values.size(); ++i) reinterpret_cast<std::uint8_t*>(raw.data())[i] = static_cast<std::uint8_t>(values[i]);
    } else {
      cpu::cast_from_float(raw.data(), dtype_, values.data(), n_);
    }
    cudaMemcpy(data_, raw.data(), raw.size(), cudaMemcpyHostToDevice);
  }
  std::vector<float> download() const {
    cudaDeviceSynchronize();
    std::vector<std::byte> raw(static_cast<std::size_t>(n_ * dtype_bytes(dtype_)));
    cudaMemcpy(raw.data(), data_, raw.size(), cudaMemcpyDeviceToHost);
    std::vector<float> out(static_cast<std::size_t>(n_));
    if (dtype_ == DType::int32) {
      for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(reinterpret_cast<const std::int32_t*>(raw.data())[i]);
    } else if (dtype_ == DType::uint8) {
      for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(reinterpret_cast<const std::uint8_t*>(raw.data())[i]);
    } else {
      cpu::cast_to_float(out.data(), raw.data(), dtype_, n_);
    }
    return out;
  }
  std::vector<std::byte> bytes() const {
    cudaDeviceSynchronize();
    std::vector<std::byte> raw(static_cast<std::size_t>(n_ * dtype_bytes(dtype_)));
    cudaMemcpy(raw.data(), data_, raw.size(), cudaMemcpyDeviceToHost);
    return raw;
  }
  DeviceTensor t() { return {data_, dtype_}; }
  ConstDeviceTensor c() const { return {data_, dtype_}; }
  float* f() { return static_cast<float*>(data_); }
  std::int32_t* i32() { return static_cast<std::int32_t*>(data_); }
  std::uint8_t* u8() { return static_cast<std::uint8_t*>(data_); }
  std::int64_t size() const { return n_; }

 private:
  void* data_ = nullptr;
  std::int64_t n_;
  DType dtype_;
};

class TestScratch final : public DeviceScratch {
 public:
  ~TestScratch() override { cudaFree(data_); }
  void* get(std::size_t bytes) override {
    if (bytes > capacity_) {
      cudaDeviceSynchronize();
      cudaFree(data_);
      cudaMalloc(&data_, bytes);
      capacity_ = bytes;
    }
    return data_;
  }

 private:
  void* data_ = nullptr;
  std::size_t capacity_ = 0;
};

// values after a round trip through `dtype` storage
inline std::vector<float> rounded(std::vector<float> v, DType dtype) {
  std::vector<std::byte> raw(v.size() * static_cast<std::size_t>(dtype_bytes(dtype)));
  cpu::cast_from_float(raw.data(), dtype, v.data(), static_cast<std::int64_t>(v.size()));
  cpu::cast_to_float(v.data(), raw.data(), dtype, static_cast<std::int64_t>(v.size()));
  return v;
}

// Norm-wise relative tolerance of a result stored as `dtype` (a few rounding steps of it).
inline double tolerance(DType dtype) {
  switch (dtype) {
    case DType::bf16:
      return 2e-2;
    case DType::fp16:
      return 4e-3;
    case DType::fp8_e4m3:
    case DType::fp8_e5m2:
      return 1.5e-1;
    default:
      return 2e-5;
  }
}

inline void expect_close(const std::vector<float>& actual, const std::vector<float>& expected, DType dtype,
                         const std::string& what, double scale = 1.0) {
  const double err = executor::test::rel_error(actual, executor::test::to_double(expected), 1e-6);
  EXPECT_LE(err, tolerance(dtype) * scale) << what << " (" << to_string(dtype) << ")";
}

}  // namespace clustersim::executor::cuda::test
