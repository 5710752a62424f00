// How the CUDA backend turns a failing status of the CUDA runtime, cuBLAS(Lt) or NCCL into one of the
// project's exceptions (plan/error.hpp). The check macros of the backend (CUDA_CHECK, CUBLAS_CHECK,
// NCCL_CHECK in src/cuda/check.hpp) call throw_device_error with the status code, its name and
// description, the failing expression, file and line. The classification is plain C++ over the
// numeric status codes (check.hpp pins the values against the libraries' headers at compile time),
// so it is tested without a device:
//   out_of_memory  -> CheckFailed (the workload does not fit: the user's check failed, exit 1)
//   no_device      -> Error       (no usable device or driver: the message says what is missing)
//   unsupported    -> Error       (the device cannot run this: architecture, fp8, feature)
//   bad_call       -> InternalError (an invalid argument reached a library: a clustersim bug)
//   device_fault   -> Error       (a kernel faulted or a peer failed; later calls will fail too)
// Library code never prints; the message carries everything a user needs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace clustersim::executor::cuda {

enum class DeviceLibrary : std::uint8_t { cuda, cublas, nccl };

enum class DeviceErrorClass : std::uint8_t { out_of_memory, no_device, unsupported, bad_call, device_fault };

// Class of a non-success status `code` of `library` (cudaError_t, cublasStatus_t, ncclResult_t).
DeviceErrorClass classify_device_error(DeviceLibrary library, int code);

std::string_view library_name(DeviceLibrary library);

// "CUDA error 2 cudaErrorMemoryAllocation (out of memory) in cudaMalloc(&p, n) at file.cpp:42"
// followed by ": <context>" when context is not empty.
std::string device_error_message(DeviceLibrary library, int code, std::string_view code_name,
                                 std::string_view description, std::string_view expression, std::string_view file,
                                 int line, std::string_view context = {});

// Throws the exception of classify_device_error(library, code) with device_error_message(...).
[[noreturn]] void throw_device_error(DeviceLibrary library, int code, std::string_view code_name,
                                     std::string_view description, std::string_view expression,
                                     std::string_view file, int line, std::string_view context = {});

// The message of an allocation the device could not satisfy, naming what asked for it:
// "<where>: out of device memory allocating <bytes> (<GiB>) for tensor <name> (<role>); the rank holds
// <live> in plan tensors and <scratch> in scratch; the device has <free> of <total> free".
std::string out_of_memory_message(std::string_view where, std::int64_t bytes, std::string_view tensor,
                                  std::string_view role, std::int64_t live_bytes, std::int64_t scratch_bytes,
                                  std::int64_t device_free_bytes, std::int64_t device_total_bytes);

}  // namespace clustersim::executor::cuda
