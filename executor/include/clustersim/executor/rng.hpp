// Counter-based random numbers for the executor: Philox4x32-10 (Salmon et al., "Parallel random
// numbers: as easy as 1, 2, 3", SC'11), the generator cuRAND and PyTorch use. A value depends only on
// (key, counter), never on call order, so a tensor shard can regenerate exactly its slice of the
// unsharded initialisation and a backward pass can regenerate a forward dropout mask. Header-only so
// the CUDA backend compiles the same functions.
//
// Conventions shared by every backend:
//   * key: 64 bits, derived from the plan seed and an identity with `derive_key`;
//     Philox key words = {low 32 bits, high 32 bits}.
//   * counter: the 64-bit element index; Philox counter words = {low, high, 0, 0}.
//   * uniform01(key, i)  = (word0 >> 8) * 2^-24, in [0, 1).
//   * normal01(key, i)   = Box-Muller on words 0 and 1: sqrt(-2 ln u1) cos(2 pi u2),
//                          u1 = (word0 + 1) * 2^-32 in (0, 1], u2 = word1 * 2^-32; computed in double.
//   * dropout keeps element i when uniform01(key, i) >= p.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>

#include "clustersim/executor/numeric.hpp"

namespace clustersim::executor {

using PhiloxBlock = std::array<std::uint32_t, 4>;

CLUSTERSIM_HD inline PhiloxBlock philox4x32_10(PhiloxBlock ctr, std::array<std::uint32_t, 2> key) {
  constexpr std::uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u, kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = static_cast<std::uint64_t>(kM0) * ctr[0];
    const std::uint64_t p1 = static_cast<std::uint64_t>(kM1) * ctr[2];
    const std::uint32_t hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
    const std::uint32_t hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
    ctr = {hi1 ^ ctr[1] ^ key[0], lo1, hi0 ^ ctr[3] ^ key[1], lo0};
    key[0] += kW0;
    key[1] += kW1;
  }
  return ctr;
}

CLUSTERSIM_HD inline PhiloxBlock philox_at(std::uint64_t key, std::uint64_t counter) {
  return philox4x32_10({static_cast<std::uint32_t>(counter), static_cast<std::uint32_t>(counter >> 32), 0u, 0u},
                       {static_cast<std::uint32_t>(key), static_cast<std::uint32_t>(key >> 32)});
}

// SplitMix64 finaliser (Steele et al., OOPSLA'14): a bijective 64-bit mix.
CLUSTERSIM_HD inline std::uint64_t mix64(std::uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Folds identity words into a key: derive_key(seed, {a, b, c}) = mix(...mix(mix(seed) ^ a) ^ b...).
CLUSTERSIM_HD inline std::uint64_t derive_key(std::uint64_t seed, std::uint64_t word) {
  return mix64(mix64(seed) ^ word);
}
template <typename... Words>
CLUSTERSIM_HD inline std::uint64_t derive_key(std::uint64_t seed, std::uint64_t first, Words... rest) {
  return derive_key(derive_key(seed, first), static_cast<std::uint64_t>(rest)...);
}

CLUSTERSIM_HD inline float uniform01(std::uint64_t key, std::uint64_t counter) {
  return static_cast<float>(philox_at(key, counter)[0] >> 8) * (1.0f / 16777216.0f);
}

CLUSTERSIM_HD inline double normal01(std::uint64_t key, std::uint64_t counter) {
  const PhiloxBlock w = philox_at(key, counter);
  const double u1 = (static_cast<double>(w[0]) + 1.0) * (1.0 / 4294967296.0);
  const double u2 = static_cast<double>(w[1]) * (1.0 / 4294967296.0);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586476925 * u2);
}

CLUSTERSIM_HD inline bool dropout_keep(std::uint64_t key, std::uint64_t counter, float p) {
  return uniform01(key, counter) >= p;
}

}  // namespace clustersim::executor
