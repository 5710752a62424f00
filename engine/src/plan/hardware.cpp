// Derived quantities of the resolved hardware.
#include "clustersim/plan/hardware.hpp"

#include <cmath>

namespace clustersim::plan {

double GpuSpec::peak_tflops_for(DType dtype) const {
  DType key = dtype;
  if (dtype == DType::fp8_e5m2) key = DType::fp8_e4m3;
  const auto it = peak_tflops.find(key);
  if (it == peak_tflops.end() || it->second <= 0.0)
    throw InputError("cluster.gpu.peak_tflops." + std::string(to_string(key)), "missing",
                     "GPU \"" + name + "\" has no " + std::string(to_string(key)) +
                         " rate; pick another precision or add the rate to the GPU entry");
  return it->second;
}

std::int64_t Hardware::usable_memory_bytes() const {
  return static_cast<std::int64_t>(std::floor(gpu.memory_gib * 1024.0 * 1024.0 * 1024.0 * gpu.usable_memory_fraction));
}

}  // namespace clustersim::plan
