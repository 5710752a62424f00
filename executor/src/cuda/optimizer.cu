// Fused CUDA AdamW and SGD updates (cuda/optimizer.hpp): the arithmetic of cpu/optimizer.cpp per
// element, the bias corrections computed once per block from the step (a host value, or a device
// counter when the step may be skipped), the update skipped entirely when the non-finite flag is set.
#include "clustersim/executor/cuda/optimizer.hpp"

#include "check.hpp"
#include "clustersim/executor/cuda/launch.hpp"
#include "device_info.hpp"
#include "device_math.cuh"

namespace clustersim::executor::cuda {

namespace {

using dev::i64;
using dev::load;
using dev::store;

struct Tensors {
  void* weight;
  DType tw;
  void* master;
  DType tm;
  void* s1;
  DType t1;
  void* s2;
  DType t2;
  const void* grad;
  DType tg;
};

__device__ __forceinline__ std::int64_t step_of(const OptimizerStep& st) {
  return st.counter != nullptr ? *st.counter + 1 : st.host_step;
}

__global__ void k_adamw(Tensors t, i64 n, cpu::AdamWHyper h, OptimizerStep st) {
  if (st.found_inf != nullptr && *st.found_inf != 0.0f) return;
  __shared__ float bias_correction[2];
  if (threadIdx.x == 0) {
    const double step = static_cast<double>(step_of(st));
    bias_correction[0] = static_cast<float>(1.0 - pow(static_cast<double>(h.beta1), step));
    bias_correction[1] = static_cast<float>(1.0 - pow(static_cast<double>(h.beta2), step));
  }
  __syncthreads();
  const float bc1 = bias_correction[0], bc2 = bias_correction[1];
  const float decay = 1.0f - h.lr * h.weight_decay;
  const bool separate = t.weight != t.master;
  CLUSTERSIM_GRID_LOOP(i, n) {
    const float g = load(t.grad, t.tg, i) * h.grad_scale;
    const float m = h.beta1 * load(t.s1, t.t1, i) + (1.0f - h.beta1) * g;
    const float v = h.beta2 * load(t.s2, t.t2, i) + (1.0f - h.beta2) * g * g;
    store(t.s1, t.t1, i, m);
    store(t.s2, t.t2, i, v);
    // as on the CPU, the unrounded m, v and w feed the rest of the update and every output
    const float mhat = m / bc1;
    const float vhat = v / bc2;
    const float w = load(t.master, t.tm, i) * decay - h.lr * mhat / (sqrtf(vhat) + h.eps);
    store(t.master, t.tm, i, w);
    if (separate) store(t.weight, t.tw, i, w);
  }
}

__global__ void k_sgd(Tensors t, i64 n, cpu::SgdHyper h, OptimizerStep st) {
  if (st.found_inf != nullptr && *st.found_inf != 0.0f) return;
  const bool separate = t.weight != t.master;
  const bool momentum = t.s1 != nullptr && h.momentum != 0.0f;
  CLUSTERSIM_GRID_LOOP(i, n) {
    const float master = load(t.master, t.tm, i);
    float g = load(t.grad, t.tg, i) * h.grad_scale + h.weight_decay * master;
    if (momentum) {
      const float buf = h.momentum * load(t.s1, t.t1, i) + g;
      store(t.s1, t.t1, i, buf);
      g = buf;
    }
    const float w = master - h.lr * g;
    store(t.master, t.tm, i, w);
    if (separate) store(t.weight, t.tw, i, w);
  }
}

__global__ void k_bump(std::int64_t* counter, const float* found_inf) {
  if (found_inf == nullptr || *found_inf == 0.0f) *counter += 1;
}

__global__ void k_note(float* stats_found_inf, const float* found_inf) {
  if (*found_inf != 0.0f) *stats_found_inf = 1.0f;
}

}  // namespace

void adamw_update(DeviceTensor weight, DeviceTensor master, DeviceTensor m, DeviceTensor v, ConstDeviceTensor grad,
                  std::int64_t n, const cpu::AdamWHyper& hyper, const OptimizerStep& step, DeviceStream stream) {
  if (n <= 0) return;
  const Tensors t{weight.data, weight.dtype, master.data, master.dtype, m.data, m.dtype,
                  v.data,      v.dtype,      grad.data,   grad.dtype};
  const LaunchConfig lc = elementwise_launch(n, detail::current_device_info().sm_count);
  k_adamw<<<static_cast<unsigned>(lc.blocks), lc.threads, 0, stream>>>(t, n, hyper, step);
  CUDA_CHECK_LAUNCH();
}

void sgd_update(DeviceTensor weight, DeviceTensor master, DeviceTensor momentum, ConstDeviceTensor grad,
                std::int64_t n, const cpu::SgdHyper& hyper, const OptimizerStep& step, DeviceStream stream) {
  if (n <= 0) return;
  const Tensors t{weight.data, weight.dtype, master.data,  master.dtype, momentum.data,
                  momentum.dtype, nullptr,   DType::fp32, grad.data,    grad.dtype};
  const LaunchConfig lc = elementwise_launch(n, detail::current_device_info().sm_count);
  k_sgd<<<static_cast<unsigned>(lc.blocks), lc.threads, 0, stream>>>(t, n, hyper, step);
  CUDA_CHECK_LAUNCH();
}

void bump_step_counter(std::int64_t* counter, const float* found_inf, DeviceStream stream) {
  k_bump<<<1, 1, 0, stream>>>(counter, found_inf);
  CUDA_CHECK_LAUNCH();
}

void note_found_inf(float* stats_found_inf, const float* found_inf, DeviceStream stream) {
  k_note<<<1, 1, 0, stream>>>(stats_found_inf, found_inf);
  CUDA_CHECK_LAUNCH();
}

}  // namespace clustersim::executor::cuda
