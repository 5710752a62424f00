// CPU dropout kernels for the Plan's elementwise names dropout and dropout_backward. The mask comes
// from the counter-based generator of rng.hpp: element i is kept when dropout_keep(key, i, p), so a
// mask can be regenerated from (key, index) alone. Kept elements are scaled by 1/(1-p).
#pragma once

#include <cstdint>

namespace clustersim::executor::cpu {

// y = x * mask / (1-p); mask[i] = 1 kept, 0 dropped. 0 <= p < 1.
void dropout_forward(float* y, std::uint8_t* mask, const float* x, std::int64_t n, float p, std::uint64_t key);
// dx = dy * mask / (1-p), overwritten.
void dropout_backward(float* dx, const float* dy, const std::uint8_t* mask, std::int64_t n, float p);

}  // namespace clustersim::executor::cpu
