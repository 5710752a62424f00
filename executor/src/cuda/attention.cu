// Fused CUDA attention (cuda/attention.hpp). Every kernel works on tiles in shared memory laid out
// by launch.hpp's attention_tiles; products of tiles go through tile_mma, which uses tensor cores
// (WMMA 16x16x16, fp32 accumulation) for bf16/fp16 tiles and fp32 arithmetic otherwise, so the
// flash algorithm is written once for both. Global reads and writes go through device_math.cuh's
// load/store, so any float storage dtype works and rows follow the shard-major order of sequence
// parallelism. Kernels:
//   k_forward   one block per (query tile, head, batch): online softmax over key tiles -> out, lse
//   k_probs     non-flash: one block per (query tile, key tile, batch*head): probs, mask, dropped
//   k_delta     rowdot_i = dO_i . out_i (flash backward's D term)
//   k_rowdot    non-flash: rowdot_i = sum_j dP_ij P_ij from the stored probabilities and mask
//   k_backward  one block per (key tile, kv head, batch): dK, dV in shared memory over the query
//               heads of the group and the query tiles; dQ added with fp32 atomics to scratch
//   k_dq_store  scratch dQ -> the query columns of dqkv
#include "clustersim/executor/cuda/attention.hpp"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <mma.h>

#include <string>
#include <type_traits>

#include "check.hpp"
#include "clustersim/executor/cuda/launch.hpp"
#include "clustersim/executor/rng.hpp"
#include "clustersim/plan/error.hpp"
#include "device_info.hpp"
#include "device_math.cuh"

namespace clustersim::executor::cuda {

namespace {

using dev::i64;
using dev::load;
using dev::store;

struct Geom {
  i64 B = 0, H = 0, KV = 0, T = 0, D = 0, W = 0, HD = 0, group = 1, heads_total = 0, head_offset = 0, shards = 1;
  float scale = 1.0f, p = 0.0f, inv_keep = 1.0f;
  bool causal = true;
  std::uint64_t key = 0;
};

Geom make_geom(const cpu::AttentionShape& s) {
  require(s.heads > 0 && s.kv_heads > 0 && s.heads % s.kv_heads == 0,
          "attention: heads must be a positive multiple of kv_heads");
  require(s.dropout >= 0.0f && s.dropout < 1.0f, "attention: dropout must be in [0, 1)");
  Geom g;
  g.B = s.batch, g.H = s.heads, g.KV = s.kv_heads, g.T = s.seq, g.D = s.head_dim;
  g.W = s.qkv_width(), g.HD = s.heads * s.head_dim, g.group = s.heads / s.kv_heads;
  g.heads_total = s.heads_total > 0 ? s.heads_total : s.heads;
  g.head_offset = s.head_offset;
  g.shards = s.seq_shards > 1 ? s.seq_shards : 1;
  require(g.T % g.shards == 0, "attention: seq must be a multiple of seq_shards");
  g.scale = 1.0f / std::sqrt(static_cast<float>(s.head_dim));
  g.p = s.dropout;
  g.inv_keep = s.dropout > 0.0f ? 1.0f / (1.0f - s.dropout) : 1.0f;
  g.causal = s.causal;
  g.key = s.dropout_key;
  return g;
}

__device__ __forceinline__ i64 row_of(const Geom& g, i64 b, i64 t) {
  if (g.shards <= 1) return b * g.T + t;
  const i64 local = g.T / g.shards;
  return ((t / local) * g.B + b) * local + t % local;
}

__device__ __forceinline__ bool kept(const Geom& g, i64 b, i64 h, i64 i, i64 j) {
  return dropout_keep(g.key, static_cast<std::uint64_t>(((b * g.heads_total + g.head_offset + h) * g.T + i) * g.T + j),
                      g.p);
}

__device__ __forceinline__ bool visible(const Geom& g, i64 i, i64 j) {
  return i < g.T && j < g.T && (!g.causal || j <= i);
}

template <typename E>
__device__ __forceinline__ E to_e(float v) {
  if constexpr (std::is_same_v<E, __nv_bfloat16>)
    return __float2bfloat16_rn(v);
  else if constexpr (std::is_same_v<E, __half>)
    return __float2half_rn(v);
  else
    return v;
}

template <typename E>
__device__ __forceinline__ E* tile_at(unsigned char* smem, std::size_t offset) {
  return reinterpret_cast<E*>(smem + offset);
}

// tile[r][d] = head columns [col, col + D) of buffer row row_of(b, r0 + r) (zeros past the sequence)
template <typename E>
__device__ void load_tile(E* tile, int ld, const void* src, DType t, i64 width, i64 col, const Geom& g, i64 b, i64 r0,
                          int rows) {
  const int D = static_cast<int>(g.D);
  for (int idx = threadIdx.x; idx < rows * D; idx += blockDim.x) {
    const int r = idx / D, d = idx % D;
    const i64 tt = r0 + r;
    const float v = tt < g.T ? load(src, t, row_of(g, b, tt) * width + col + d) : 0.0f;
    tile[r * ld + d] = to_e<E>(v);
  }
}

// C(M x N) (+)= op(A)(M x K) op(B)(K x N) on shared-memory tiles, by the whole block. op(A) = A^T when
// TA (A stored K x M), op(B) = B^T when TB (B stored N x K). Tensor cores for 16-bit E (M, N, K
// multiples of 16, leading dimensions as attention_tiles lays them out).
template <typename E, bool TA, bool TB>
__device__ void tile_mma(float* C, int ldc, const E* A, int lda, const E* B, int ldb, int M, int N, int K,
                         bool accumulate) {
  if constexpr (std::is_same_v<E, float>) {
    for (int idx = threadIdx.x; idx < M * N; idx += blockDim.x) {
      const int m = idx / N, n = idx % N;
      float acc = accumulate ? C[m * ldc + n] : 0.0f;
      for (int k = 0; k < K; ++k) {
        const float a = TA ? A[k * lda + m] : A[m * lda + k];
        const float b = TB ? B[n * ldb + k] : B[k * ldb + n];
        acc = fmaf(a, b, acc);
      }
      C[m * ldc + n] = acc;
    }
  } else {
    namespace wmma = nvcuda::wmma;
    using LayoutA = std::conditional_t<TA, wmma::col_major, wmma::row_major>;
    using LayoutB = std::conditional_t<TB, wmma::col_major, wmma::row_major>;
    const int warp = static_cast<int>(threadIdx.x >> 5), warps = static_cast<int>(blockDim.x >> 5);
    const int tiles_n = N / 16, tiles = (M / 16) * tiles_n;
    for (int tile = warp; tile < tiles; tile += warps) {
      const int m0 = (tile / tiles_n) * 16, n0 = (tile % tiles_n) * 16;
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      if (accumulate)
        wmma::load_matrix_sync(acc, C + m0 * ldc + n0, static_cast<unsigned>(ldc), wmma::mem_row_major);
      else
        wmma::fill_fragment(acc, 0.0f);
      for (int k0 = 0; k0 < K; k0 += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, E, LayoutA> a;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, E, LayoutB> b;
        wmma::load_matrix_sync(a, TA ? A + k0 * lda + m0 : A + m0 * lda + k0, static_cast<unsigned>(lda));
        wmma::load_matrix_sync(b, TB ? B + n0 * ldb + k0 : B + k0 * ldb + n0, static_cast<unsigned>(ldb));
        wmma::mma_sync(acc, a, b, acc);
      }
      wmma::store_matrix_sync(C + m0 * ldc + n0, acc, static_cast<unsigned>(ldc), wmma::mem_row_major);
    }
  }
}

// --- forward ---------------------------------------------------------------------------------------

template <typename E>
__global__ void __launch_bounds__(128) k_forward(const void* qkv, DType tq, void* out, DType to, float* lse, Geom g,
                                                 AttentionTiles t) {
  extern __shared__ __align__(128) unsigned char smem[];
  E* sQ = tile_at<E>(smem, t.off_q);
  E* sK = tile_at<E>(smem, t.off_k);
  E* sV = tile_at<E>(smem, t.off_v);
  float* sS = tile_at<float>(smem, t.off_s);
  E* sP = tile_at<E>(smem, t.off_p);
  float* sO = tile_at<float>(smem, t.off_o);
  float* row_max = tile_at<float>(smem, t.off_row0);
  float* row_sum = tile_at<float>(smem, t.off_row1);
  const int BQ = t.block_q, BKV = t.block_kv, D = static_cast<int>(g.D);
  const int lane = static_cast<int>(threadIdx.x & 31), warp = static_cast<int>(threadIdx.x >> 5);
  const int warps = static_cast<int>(blockDim.x >> 5);
  const i64 q0 = static_cast<i64>(blockIdx.x) * BQ, h = blockIdx.y, b = blockIdx.z, kvh = h / g.group;

  load_tile<E>(sQ, t.ld_e, qkv, tq, g.W, h * g.D, g, b, q0, BQ);
  for (int idx = threadIdx.x; idx < BQ * t.ld_o; idx += blockDim.x) sO[idx] = 0.0f;
  for (int r = threadIdx.x; r < BQ; r += blockDim.x) {
    row_max[r] = -INFINITY;
    row_sum[r] = 0.0f;
  }
  __syncthreads();
  const i64 kv_end = g.causal ? min(g.T, q0 + BQ) : g.T;
  for (i64 k0 = 0; k0 < kv_end; k0 += BKV) {
    load_tile<E>(sK, t.ld_e, qkv, tq, g.W, (g.H + kvh) * g.D, g, b, k0, BKV);
    load_tile<E>(sV, t.ld_e, qkv, tq, g.W, (g.H + g.KV + kvh) * g.D, g, b, k0, BKV);
    __syncthreads();
    tile_mma<E, false, true>(sS, t.ld_f, sQ, t.ld_e, sK, t.ld_e, BQ, BKV, D, false);
    __syncthreads();
    for (int r = warp; r < BQ; r += warps) {
      const i64 i = q0 + r;
      float s[2];
      float local_max = -INFINITY;
      for (int u = 0; u < 2; ++u) {
        const int c = lane + 32 * u;
        s[u] = -INFINITY;
        if (c < BKV && visible(g, i, k0 + c)) s[u] = sS[r * t.ld_f + c] * g.scale;
        local_max = fmaxf(local_max, s[u]);
      }
      const float old_max = row_max[r];
      const float new_max = fmaxf(old_max, dev::warp_max(local_max));
      float local_sum = 0.0f;
      for (int u = 0; u < 2; ++u) {
        const int c = lane + 32 * u;
        if (c >= BKV) continue;
        const float p = s[u] == -INFINITY ? 0.0f : expf(s[u] - new_max);
        local_sum += p;
        float pd = p;
        if (g.p > 0.0f && p != 0.0f) pd = kept(g, b, h, i, k0 + c) ? p * g.inv_keep : 0.0f;
        sP[r * t.ld_p + c] = to_e<E>(pd);
      }
      const float sum = dev::warp_sum(local_sum);
      const float alpha = old_max == -INFINITY ? 0.0f : expf(old_max - new_max);
      for (int d = lane; d < D; d += 32) sO[r * t.ld_o + d] *= alpha;
      __syncwarp();
      if (lane == 0) {
        row_max[r] = new_max;
        row_sum[r] = row_sum[r] * alpha + sum;
      }
    }
    __syncthreads();
    tile_mma<E, false, false>(sO, t.ld_o, sP, t.ld_p, sV, t.ld_e, BQ, D, BKV, true);
    __syncthreads();
  }
  for (int r = warp; r < BQ; r += warps) {
    const i64 i = q0 + r;
    if (i >= g.T) continue;
    const float l = row_sum[r];
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    const i64 base = row_of(g, b, i) * g.HD + h * g.D;
    for (int d = lane; d < D; d += 32) store(out, to, base + d, sO[r * t.ld_o + d] * inv);
    if (lane == 0 && lse != nullptr) lse[(b * g.H + h) * g.T + i] = row_max[r] + logf(l);
  }
}

// Non-flash: probabilities (and dropout mask and dropped probabilities) of one (query, key) tile.
template <typename E>
__global__ void __launch_bounds__(128) k_probs(const void* qkv, DType tq, const float* lse, void* probs, DType tp,
                                               std::uint8_t* mask, void* dropped, DType td, Geom g, AttentionTiles t) {
  extern __shared__ __align__(128) unsigned char smem[];
  E* sQ = tile_at<E>(smem, t.off_q);
  E* sK = tile_at<E>(smem, t.off_k);
  float* sS = tile_at<float>(smem, t.off_s);
  const int BQ = t.block_q, BKV = t.block_kv;
  const i64 q0 = static_cast<i64>(blockIdx.x) * BQ, k0 = static_cast<i64>(blockIdx.y) * BKV;
  const i64 b = blockIdx.z / g.H, h = blockIdx.z % g.H, kvh = h / g.group;
  const bool any_visible = !g.causal || k0 <= q0 + BQ - 1;  // uniform over the block
  if (any_visible) {
    load_tile<E>(sQ, t.ld_e, qkv, tq, g.W, h * g.D, g, b, q0, BQ);
    load_tile<E>(sK, t.ld_e, qkv, tq, g.W, (g.H + kvh) * g.D, g, b, k0, BKV);
    __syncthreads();
    tile_mma<E, false, true>(sS, t.ld_f, sQ, t.ld_e, sK, t.ld_e, BQ, BKV, static_cast<int>(g.D), false);
    __syncthreads();
  }
  for (int idx = threadIdx.x; idx < BQ * BKV; idx += blockDim.x) {
    const int r = idx / BKV, c = idx % BKV;
    const i64 i = q0 + r, j = k0 + c;
    if (i >= g.T || j >= g.T) continue;
    const float p = visible(g, i, j) ? expf(sS[r * t.ld_f + c] * g.scale - lse[(b * g.H + h) * g.T + i]) : 0.0f;
    const i64 e = ((b * g.H + h) * g.T + i) * g.T + j;
    store(probs, tp, e, p);
    if (g.p > 0.0f) {
      const bool k = kept(g, b, h, i, j);
      mask[e] = k ? 1 : 0;
      store(dropped, td, e, k ? p * g.inv_keep : 0.0f);
    }
  }
}

// --- backward --------------------------------------------------------------------------------------

// delta[(b*H + h)*T + i] = dout_i . out_i (one warp per row).
__global__ void k_delta(float* delta, const void* dout, DType tdo, const void* out, DType to, Geom g) {
  const i64 w = (static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  const int lane = static_cast<int>(threadIdx.x & 31);
  if (w >= g.B * g.H * g.T) return;
  const i64 i = w % g.T, h = (w / g.T) % g.H, b = w / (g.T * g.H);
  const i64 base = row_of(g, b, i) * g.HD + h * g.D;
  double acc = 0.0;
  for (i64 d = lane; d < g.D; d += 32) acc += static_cast<double>(load(out, to, base + d)) * load(dout, tdo, base + d);
  acc = dev::warp_sum(acc);
  if (lane == 0) delta[(b * g.H + h) * g.T + i] = static_cast<float>(acc);
}

struct StoredProbs {
  const void* probs = nullptr;
  DType tp = DType::fp32;
  const std::uint8_t* mask = nullptr;
  const void* dropped = nullptr;
  DType td = DType::fp32;
};

// Non-flash rowdot from stored probabilities: sum_j dP_ij P_ij, dP = (dO V^T) * mask / (1 - p).
template <typename E>
__global__ void __launch_bounds__(128) k_rowdot(float* delta, const void* qkv, DType tq, const void* dout, DType tdo,
                                                StoredProbs sp, Geom g, AttentionTiles t) {
  extern __shared__ __align__(128) unsigned char smem[];
  E* sdO = tile_at<E>(smem, t.off_q);
  E* sV = tile_at<E>(smem, t.off_v);
  float* sdP = tile_at<float>(smem, t.off_s);
  double* acc_rows = tile_at<double>(smem, t.off_row0);
  const int BQ = t.block_q, BKV = t.block_kv;
  const int lane = static_cast<int>(threadIdx.x & 31), warp = static_cast<int>(threadIdx.x >> 5);
  const int warps = static_cast<int>(blockDim.x >> 5);
  const i64 q0 = static_cast<i64>(blockIdx.x) * BQ, h = blockIdx.y, b = blockIdx.z, kvh = h / g.group;
  load_tile<E>(sdO, t.ld_e, dout, tdo, g.HD, h * g.D, g, b, q0, BQ);
  for (int r = threadIdx.x; r < BQ; r += blockDim.x) acc_rows[r] = 0.0;
  const i64 kv_end = g.causal ? min(g.T, q0 + BQ) : g.T;
  for (i64 k0 = 0; k0 < kv_end; k0 += BKV) {
    load_tile<E>(sV, t.ld_e, qkv, tq, g.W, (g.H + g.KV + kvh) * g.D, g, b, k0, BKV);
    __syncthreads();
    tile_mma<E, false, true>(sdP, t.ld_f, sdO, t.ld_e, sV, t.ld_e, BQ, BKV, static_cast<int>(g.D), false);
    __syncthreads();
    for (int r = warp; r < BQ; r += warps) {
      const i64 i = q0 + r;
      double acc = 0.0;
      for (int c = lane; c < BKV; c += 32) {
        const i64 j = k0 + c;
        if (!visible(g, i, j)) continue;
        const i64 e = ((b * g.H + h) * g.T + i) * g.T + j;
        const float dpd = sdP[r * t.ld_f + c];
        const float dp = g.p > 0.0f ? (sp.mask[e] != 0 ? dpd * g.inv_keep : 0.0f) : dpd;
        acc += static_cast<double>(dp) * load(sp.probs, sp.tp, e);
      }
      acc = dev::warp_sum(acc);
      if (lane == 0) acc_rows[r] += acc;
    }
    __syncthreads();
  }
  for (int r = threadIdx.x; r < BQ; r += blockDim.x)
    if (q0 + r < g.T) delta[(b * g.H + h) * g.T + q0 + r] = static_cast<float>(acc_rows[r]);
}

struct BackwardArgs {
  const void* qkv = nullptr;
  DType tq = DType::fp32;
  const void* dout = nullptr;
  DType tdo = DType::fp32;
  const float* lse = nullptr;  // flash
  const float* delta = nullptr;
  StoredProbs stored;          // non-flash
  float* dq = nullptr;         // (B, T, H, D) fp32, natural order, zeroed
  void* dqkv = nullptr;
  DType tdq = DType::fp32;
};

template <typename E, bool Stored>
__global__ void __launch_bounds__(128) k_backward(BackwardArgs a, Geom g, AttentionTiles t) {
  extern __shared__ __align__(128) unsigned char smem[];
  E* sK = tile_at<E>(smem, t.off_k);
  E* sV = tile_at<E>(smem, t.off_v);
  E* sQ = tile_at<E>(smem, t.off_q);
  E* sdO = tile_at<E>(smem, t.off_dout);
  float* sdK = tile_at<float>(smem, t.off_dk);
  float* sdV = tile_at<float>(smem, t.off_dv);
  float* sS = tile_at<float>(smem, t.off_s);
  float* sdP = tile_at<float>(smem, t.off_dp);
  float* sdQ = tile_at<float>(smem, t.off_dq);
  E* sP = tile_at<E>(smem, t.off_p);
  E* sdS = tile_at<E>(smem, t.off_ds);
  float* row_lse = tile_at<float>(smem, t.off_row0);
  float* row_delta = tile_at<float>(smem, t.off_row1);
  const int BQ = t.block_q, BKV = t.block_kv, D = static_cast<int>(g.D);
  const i64 k0 = static_cast<i64>(blockIdx.x) * BKV, kvh = blockIdx.y, b = blockIdx.z;

  load_tile<E>(sK, t.ld_e, a.qkv, a.tq, g.W, (g.H + kvh) * g.D, g, b, k0, BKV);
  load_tile<E>(sV, t.ld_e, a.qkv, a.tq, g.W, (g.H + g.KV + kvh) * g.D, g, b, k0, BKV);
  for (int idx = threadIdx.x; idx < BKV * t.ld_o; idx += blockDim.x) {
    sdK[idx] = 0.0f;
    sdV[idx] = 0.0f;
  }
  __syncthreads();
  const i64 q_begin = g.causal ? (k0 / BQ) * BQ : 0;
  for (i64 h = kvh * g.group; h < (kvh + 1) * g.group; ++h) {
    for (i64 q0 = q_begin; q0 < g.T; q0 += BQ) {
      load_tile<E>(sQ, t.ld_e, a.qkv, a.tq, g.W, h * g.D, g, b, q0, BQ);
      load_tile<E>(sdO, t.ld_e, a.dout, a.tdo, g.HD, h * g.D, g, b, q0, BQ);
      for (int r = threadIdx.x; r < BQ; r += blockDim.x) {
        const i64 i = q0 + r;
        row_lse[r] = !Stored && i < g.T ? a.lse[(b * g.H + h) * g.T + i] : 0.0f;
        row_delta[r] = i < g.T ? a.delta[(b * g.H + h) * g.T + i] : 0.0f;
      }
      __syncthreads();
      if constexpr (!Stored) tile_mma<E, false, true>(sS, t.ld_f, sQ, t.ld_e, sK, t.ld_e, BQ, BKV, D, false);
      tile_mma<E, false, true>(sdP, t.ld_f, sdO, t.ld_e, sV, t.ld_e, BQ, BKV, D, false);
      __syncthreads();
      for (int idx = threadIdx.x; idx < BQ * BKV; idx += blockDim.x) {
        const int r = idx / BKV, c = idx % BKV;
        const i64 i = q0 + r, j = k0 + c;
        float pd = 0.0f, ds = 0.0f;
        if (visible(g, i, j)) {
          float p = 0.0f;
          bool k = true;
          if constexpr (!Stored) {
            p = expf(sS[r * t.ld_f + c] * g.scale - row_lse[r]);
            if (g.p > 0.0f) k = kept(g, b, h, i, j);
            pd = g.p > 0.0f ? (k ? p * g.inv_keep : 0.0f) : p;
          } else {
            const i64 e = ((b * g.H + h) * g.T + i) * g.T + j;
            p = load(a.stored.probs, a.stored.tp, e);
            if (g.p > 0.0f) {
              k = a.stored.mask[e] != 0;
              pd = load(a.stored.dropped, a.stored.td, e);
            } else {
              pd = p;
            }
          }
          const float dpd = sdP[r * t.ld_f + c];
          const float dp = g.p > 0.0f ? (k ? dpd * g.inv_keep : 0.0f) : dpd;
          ds = p * (dp - row_delta[r]);
        }
        sP[r * t.ld_p + c] = to_e<E>(pd);
        sdS[r * t.ld_p + c] = to_e<E>(ds);
      }
      __syncthreads();
      tile_mma<E, true, false>(sdV, t.ld_o, sP, t.ld_p, sdO, t.ld_e, BKV, D, BQ, true);   // dV += Pd^T dO
      tile_mma<E, true, false>(sdK, t.ld_o, sdS, t.ld_p, sQ, t.ld_e, BKV, D, BQ, true);   // dK += dS^T Q
      tile_mma<E, false, false>(sdQ, t.ld_o, sdS, t.ld_p, sK, t.ld_e, BQ, D, BKV, false);  // dQ  = dS K
      __syncthreads();
      for (int idx = threadIdx.x; idx < BQ * D; idx += blockDim.x) {
        const int r = idx / D, d = idx % D;
        const i64 i = q0 + r;
        if (i < g.T) atomicAdd(&a.dq[((b * g.T + i) * g.H + h) * g.D + d], sdQ[r * t.ld_o + d] * g.scale);
      }
      __syncthreads();
    }
  }
  for (int idx = threadIdx.x; idx < BKV * D; idx += blockDim.x) {
    const int c = idx / D, d = idx % D;
    const i64 j = k0 + c;
    if (j >= g.T) continue;
    const i64 row = row_of(g, b, j) * g.W;
    store(a.dqkv, a.tdq, row + (g.H + kvh) * g.D + d, sdK[c * t.ld_o + d] * g.scale);
    store(a.dqkv, a.tdq, row + (g.H + g.KV + kvh) * g.D + d, sdV[c * t.ld_o + d]);
  }
}

__global__ void k_dq_store(void* dqkv, DType tdq, const float* dq, Geom g) {
  CLUSTERSIM_GRID_LOOP(idx, g.B * g.T * g.HD) {
    const i64 hd = idx % g.HD, bt = idx / g.HD, b = bt / g.T, i = bt % g.T;
    store(dqkv, tdq, row_of(g, b, i) * g.W + hd, dq[idx]);
  }
}

// --- host side -------------------------------------------------------------------------------------

enum class Element { f32, bf16, f16 };

Element element_for(std::initializer_list<DType> dtypes, i64 head_dim) {
  bool all_bf16 = true, all_f16 = true;
  for (DType d : dtypes) {
    all_bf16 &= d == DType::bf16;
    all_f16 &= d == DType::fp16;
  }
  if (all_bf16 && attention_uses_tensor_cores(DType::bf16, head_dim)) return Element::bf16;
  if (all_f16 && attention_uses_tensor_cores(DType::fp16, head_dim)) return Element::f16;
  return Element::f32;
}

AttentionTiles tiles_for(Direction direction, i64 head_dim, Element e) {
  const detail::DeviceInfo& info = detail::current_device_info();
  const AttentionTiles t = attention_tiles(direction, head_dim, e != Element::f32, info.max_shared_optin);
  if (!t.valid())
    throw InputError("attention.head_dim", std::to_string(head_dim),
                     "a head dimension whose attention tiles fit the " + std::to_string(info.max_shared_optin / 1024) +
                         " KiB of shared memory per block of " + info.name);
  return t;
}

template <typename Kernel>
void allow_shared(Kernel kernel, std::size_t bytes) {
  CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
}

unsigned tiles_over(i64 n, int tile) {
  return static_cast<unsigned>((n + tile - 1) / tile);
}

template <typename E>
void launch_forward(DeviceTensor out, float* lse, ConstDeviceTensor qkv, const Geom& g, DeviceStream stream) {
  const AttentionTiles t = tiles_for(Direction::forward, g.D, std::is_same_v<E, float> ? Element::f32 : Element::bf16);
  allow_shared(k_forward<E>, t.shared_bytes);
  const dim3 grid(tiles_over(g.T, t.block_q), static_cast<unsigned>(g.H), static_cast<unsigned>(g.B));
  k_forward<E><<<grid, t.threads, t.shared_bytes, stream>>>(qkv.data, qkv.dtype, out.data, out.dtype, lse, g, t);
  CUDA_CHECK_LAUNCH();
}

template <typename E>
void launch_probs(DeviceTensor probs, std::uint8_t* mask, DeviceTensor dropped, ConstDeviceTensor qkv,
                  const float* lse, const Geom& g, DeviceStream stream) {
  const AttentionTiles t = tiles_for(Direction::forward, g.D, std::is_same_v<E, float> ? Element::f32 : Element::bf16);
  allow_shared(k_probs<E>, t.shared_bytes);
  const dim3 grid(tiles_over(g.T, t.block_q), tiles_over(g.T, t.block_kv), static_cast<unsigned>(g.B * g.H));
  k_probs<E><<<grid, t.threads, t.shared_bytes, stream>>>(qkv.data, qkv.dtype, lse, probs.data, probs.dtype, mask,
                                                          dropped.data, dropped.dtype, g, t);
  CUDA_CHECK_LAUNCH();
}

template <typename E, bool Stored>
void launch_backward(const BackwardArgs& a, const Geom& g, DeviceStream stream) {
  const AttentionTiles t =
      tiles_for(Direction::backward, g.D, std::is_same_v<E, float> ? Element::f32 : Element::bf16);
  allow_shared(k_backward<E, Stored>, t.shared_bytes);
  const dim3 grid(tiles_over(g.T, t.block_kv), static_cast<unsigned>(g.KV), static_cast<unsigned>(g.B));
  k_backward<E, Stored><<<grid, t.threads, t.shared_bytes, stream>>>(a, g, t);
  CUDA_CHECK_LAUNCH();
}

template <typename E>
void launch_rowdot(float* delta, ConstDeviceTensor qkv, ConstDeviceTensor dout, const StoredProbs& sp, const Geom& g,
                   DeviceStream stream) {
  const AttentionTiles t = tiles_for(Direction::forward, g.D, std::is_same_v<E, float> ? Element::f32 : Element::bf16);
  allow_shared(k_rowdot<E>, t.shared_bytes);
  const dim3 grid(tiles_over(g.T, t.block_q), static_cast<unsigned>(g.H), static_cast<unsigned>(g.B));
  k_rowdot<E><<<grid, t.threads, t.shared_bytes, stream>>>(delta, qkv.data, qkv.dtype, dout.data, dout.dtype, sp, g, t);
  CUDA_CHECK_LAUNCH();
}

void launch_delta(float* delta, ConstDeviceTensor dout, ConstDeviceTensor out, const Geom& g, DeviceStream stream) {
  const i64 warps = g.B * g.H * g.T;
  const unsigned blocks = static_cast<unsigned>((warps * 32 + 255) / 256);
  k_delta<<<blocks, 256, 0, stream>>>(delta, dout.data, dout.dtype, out.data, out.dtype, g);
  CUDA_CHECK_LAUNCH();
}

void launch_dq_store(DeviceTensor dqkv, const float* dq, const Geom& g, DeviceStream stream) {
  const LaunchConfig lc = elementwise_launch(g.B * g.T * g.HD, detail::current_device_info().sm_count);
  k_dq_store<<<static_cast<unsigned>(lc.blocks), lc.threads, 0, stream>>>(dqkv.data, dqkv.dtype, dq, g);
  CUDA_CHECK_LAUNCH();
}

template <typename F>
void by_element(Element e, F&& f) {
  switch (e) {
    case Element::bf16:
      f(__nv_bfloat16{});
      return;
    case Element::f16:
      f(__half{});
      return;
    case Element::f32:
      f(float{});
      return;
  }
}

// Scratch of a backward pass: dQ accumulator and the delta rows.
struct BackwardScratch {
  float* dq;
  float* delta;
};

BackwardScratch backward_scratch(DeviceScratch& scratch, const Geom& g, DeviceStream stream) {
  const std::size_t dq_n = static_cast<std::size_t>(g.B * g.T * g.HD), rows = static_cast<std::size_t>(g.B * g.H * g.T);
  ScratchCarver carve(scratch.get(scratch_align(dq_n * sizeof(float)) + scratch_align(rows * sizeof(float))));
  BackwardScratch s{carve.take<float>(dq_n), carve.take<float>(rows)};
  CUDA_CHECK(cudaMemsetAsync(s.dq, 0, dq_n * sizeof(float), stream));
  return s;
}

}  // namespace

void attention_forward_flash(DeviceTensor out, float* lse, ConstDeviceTensor qkv, const cpu::AttentionShape& shape,
                             DeviceScratch& /*scratch*/, DeviceStream stream) {
  const Geom g = make_geom(shape);
  if (g.B == 0 || g.T == 0) return;
  by_element(element_for({qkv.dtype, out.dtype}, g.D), [&](auto e) {
    launch_forward<decltype(e)>(out, lse, qkv, g, stream);
  });
}

void attention_backward_flash(DeviceTensor dqkv, ConstDeviceTensor dout, ConstDeviceTensor qkv, ConstDeviceTensor out,
                              const float* lse, const cpu::AttentionShape& shape, DeviceScratch& scratch,
                              DeviceStream stream) {
  const Geom g = make_geom(shape);
  if (g.B == 0 || g.T == 0) return;
  const BackwardScratch s = backward_scratch(scratch, g, stream);
  launch_delta(s.delta, dout, out, g, stream);
  BackwardArgs a;
  a.qkv = qkv.data, a.tq = qkv.dtype, a.dout = dout.data, a.tdo = dout.dtype, a.lse = lse, a.delta = s.delta;
  a.dq = s.dq, a.dqkv = dqkv.data, a.tdq = dqkv.dtype;
  by_element(element_for({qkv.dtype, dout.dtype, dqkv.dtype}, g.D), [&](auto e) {
    launch_backward<decltype(e), false>(a, g, stream);
  });
  launch_dq_store(dqkv, s.dq, g, stream);
}

void attention_forward(DeviceTensor out, DeviceTensor probs, std::uint8_t* mask, DeviceTensor dropped,
                       ConstDeviceTensor qkv, const cpu::AttentionShape& shape, DeviceScratch& scratch,
                       DeviceStream stream) {
  const Geom g = make_geom(shape);
  if (g.B == 0 || g.T == 0) return;
  auto* lse = static_cast<float*>(scratch.get(static_cast<std::size_t>(g.B * g.H * g.T) * sizeof(float)));
  const Element e = element_for({qkv.dtype, out.dtype}, g.D);
  by_element(e, [&](auto tag) {
    using E = decltype(tag);
    launch_forward<E>(out, lse, qkv, g, stream);
    launch_probs<E>(probs, mask, dropped, qkv, lse, g, stream);
  });
}

void attention_backward(DeviceTensor dqkv, ConstDeviceTensor dout, ConstDeviceTensor qkv, ConstDeviceTensor probs,
                        const std::uint8_t* mask, ConstDeviceTensor dropped, const cpu::AttentionShape& shape,
                        DeviceScratch& scratch, DeviceStream stream) {
  const Geom g = make_geom(shape);
  if (g.B == 0 || g.T == 0) return;
  const BackwardScratch s = backward_scratch(scratch, g, stream);
  StoredProbs sp;
  sp.probs = probs.data, sp.tp = probs.dtype, sp.mask = mask, sp.dropped = dropped.data, sp.td = dropped.dtype;
  BackwardArgs a;
  a.qkv = qkv.data, a.tq = qkv.dtype, a.dout = dout.data, a.tdo = dout.dtype, a.delta = s.delta, a.stored = sp;
  a.dq = s.dq, a.dqkv = dqkv.data, a.tdq = dqkv.dtype;
  by_element(element_for({qkv.dtype, dout.dtype, dqkv.dtype}, g.D), [&](auto tag) {
    using E = decltype(tag);
    launch_rowdot<E>(s.delta, qkv, dout, sp, g, stream);
    launch_backward<E, true>(a, g, stream);
  });
  launch_dq_store(dqkv, s.dq, g, stream);
}

}  // namespace clustersim::executor::cuda
