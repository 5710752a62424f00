// Cached device attributes (device_info.hpp).
#include "device_info.hpp"

#include <map>
#include <memory>
#include <mutex>

#include "check.hpp"

namespace clustersim::executor::cuda::detail {

const DeviceInfo& current_device_info() {
  static std::mutex mu;
  static std::map<int, std::unique_ptr<DeviceInfo>> cache;
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  std::lock_guard lock(mu);
  auto& slot = cache[device];
  if (!slot) {
    auto info = std::make_unique<DeviceInfo>();
    info->device = device;
    cudaDeviceProp prop{};
    CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
    info->name = prop.name;
    info->sm_count = prop.multiProcessorCount;
    info->cc_major = prop.major;
    info->cc_minor = prop.minor;
    info->total_memory = static_cast<std::int64_t>(prop.totalGlobalMem);
    int optin = 0;
    CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
    info->max_shared_optin = static_cast<std::size_t>(optin);
    slot = std::move(info);
  }
  return *slot;
}

}  // namespace clustersim::executor::cuda::detail
