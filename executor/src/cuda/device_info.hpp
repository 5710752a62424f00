// Internal: facts about the current CUDA device that launch configurations need (SM count, opt-in
// shared memory per block, compute capability), read once per device and cached.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace clustersim::executor::cuda::detail {

struct DeviceInfo {
  int device = 0;
  int sm_count = 1;
  int cc_major = 0, cc_minor = 0;
  std::size_t max_shared_optin = 48 * 1024;
  std::int64_t total_memory = 0;
  std::string name;
  int compute_capability() const { return cc_major * 10 + cc_minor; }
};

// The device current on the calling thread (cudaGetDevice). Thread-safe.
const DeviceInfo& current_device_info();

}  // namespace clustersim::executor::cuda::detail
