// Classification and messages of CUDA runtime, cuBLAS and NCCL failures (cuda/errors.hpp). Plain
// C++ over status codes: the numeric values used here are pinned against the libraries' headers by
// static_asserts in check.hpp, which only the CUDA build compiles.
#include "clustersim/executor/cuda/errors.hpp"

#include <cstdio>

#include "clustersim/plan/error.hpp"

namespace clustersim::executor::cuda {

namespace {

DeviceErrorClass classify_cuda(int code) {
  switch (code) {
    case 2:    // cudaErrorMemoryAllocation
      return DeviceErrorClass::out_of_memory;
    case 35:   // cudaErrorInsufficientDriver
    case 46:   // cudaErrorDevicesUnavailable
    case 100:  // cudaErrorNoDevice
    case 101:  // cudaErrorInvalidDevice
    case 127:  // cudaErrorStartupFailure
    case 803:  // cudaErrorSystemDriverMismatch
    case 804:  // cudaErrorCompatNotSupportedOnDevice
      return DeviceErrorClass::no_device;
    case 209:  // cudaErrorNoKernelImageForDevice
    case 222:  // cudaErrorUnsupportedPtxVersion
    case 801:  // cudaErrorNotSupported
      return DeviceErrorClass::unsupported;
    case 1:    // cudaErrorInvalidValue
    case 9:    // cudaErrorInvalidConfiguration
    case 98:   // cudaErrorInvalidDeviceFunction
    case 400:  // cudaErrorInvalidResourceHandle
      return DeviceErrorClass::bad_call;
    default:   // illegal address (700), launch failure (719), out of resources (701), ...
      return DeviceErrorClass::device_fault;
  }
}

DeviceErrorClass classify_cublas(int code) {
  switch (code) {
    case 3:  // CUBLAS_STATUS_ALLOC_FAILED
      return DeviceErrorClass::out_of_memory;
    case 1:  // CUBLAS_STATUS_NOT_INITIALIZED
      return DeviceErrorClass::no_device;
    case 8:   // CUBLAS_STATUS_ARCH_MISMATCH
    case 15:  // CUBLAS_STATUS_NOT_SUPPORTED
      return DeviceErrorClass::unsupported;
    case 7:   // CUBLAS_STATUS_INVALID_VALUE
    case 14:  // CUBLAS_STATUS_INTERNAL_ERROR
      return DeviceErrorClass::bad_call;
    default:  // execution failed (13), mapping error (11), ...
      return DeviceErrorClass::device_fault;
  }
}

DeviceErrorClass classify_nccl(int code) {
  switch (code) {
    case 4:  // ncclInvalidArgument
    case 5:  // ncclInvalidUsage
    case 3:  // ncclInternalError
      return DeviceErrorClass::bad_call;
    default:  // unhandled CUDA error (1), system error (2), remote error (6), ...
      return DeviceErrorClass::device_fault;
  }
}

std::string gib(std::int64_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%lld bytes (%.2f GiB)", static_cast<long long>(bytes),
                static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0));
  return buf;
}

}  // namespace

DeviceErrorClass classify_device_error(DeviceLibrary library, int code) {
  switch (library) {
    case DeviceLibrary::cuda:
      return classify_cuda(code);
    case DeviceLibrary::cublas:
      return classify_cublas(code);
    case DeviceLibrary::nccl:
      return classify_nccl(code);
  }
  return DeviceErrorClass::device_fault;
}

std::string_view library_name(DeviceLibrary library) {
  switch (library) {
    case DeviceLibrary::cuda:
      return "CUDA";
    case DeviceLibrary::cublas:
      return "cuBLAS";
    case DeviceLibrary::nccl:
      return "NCCL";
  }
  return "?";
}

std::string device_error_message(DeviceLibrary library, int code, std::string_view code_name,
                                 std::string_view description, std::string_view expression, std::string_view file,
                                 int line, std::string_view context) {
  std::string m(library_name(library));
  m += " error " + std::to_string(code) + " " + std::string(code_name);
  if (!description.empty()) m += " (" + std::string(description) + ")";
  m += " in " + std::string(expression) + " at " + std::string(file) + ":" + std::to_string(line);
  switch (classify_device_error(library, code)) {
    case DeviceErrorClass::no_device:
      m += "; no usable CUDA device or driver (check nvidia-smi, the driver version and CUDA_VISIBLE_DEVICES)";
      break;
    case DeviceErrorClass::unsupported:
      m += "; the device does not support this (compute capability, precision or feature)";
      break;
    case DeviceErrorClass::device_fault:
      m += "; the device is in an error state, later calls on it fail too";
      break;
    default:
      break;
  }
  if (!context.empty()) m += ": " + std::string(context);
  return m;
}

void throw_device_error(DeviceLibrary library, int code, std::string_view code_name, std::string_view description,
                        std::string_view expression, std::string_view file, int line, std::string_view context) {
  const std::string m = device_error_message(library, code, code_name, description, expression, file, line, context);
  switch (classify_device_error(library, code)) {
    case DeviceErrorClass::out_of_memory:
      throw CheckFailed(m);
    case DeviceErrorClass::bad_call:
      throw InternalError("internal error: " + m);
    default:
      throw Error(m);
  }
}

std::string out_of_memory_message(std::string_view where, std::int64_t bytes, std::string_view tensor,
                                  std::string_view role, std::int64_t live_bytes, std::int64_t scratch_bytes,
                                  std::int64_t device_free_bytes, std::int64_t device_total_bytes) {
  return std::string(where) + ": out of device memory allocating " + gib(bytes) + " for tensor " +
         std::string(tensor) + " (" + std::string(role) + "); the rank holds " + gib(live_bytes) +
         " in plan tensors and " + gib(scratch_bytes) + " in scratch; the device has " + gib(device_free_bytes) +
         " free of " + gib(device_total_bytes) +
         " (a smaller micro-batch, recomputation or ZeRO sharding lowers the peak; `clustersim predict` shows it)";
}

}  // namespace clustersim::executor::cuda
