// CUDA embedding lookup and its deterministic scatter-add backward (cuda/embedding.hpp). The
// backward sorts (token, row) pairs with CUB's stable radix sort, so each token's rows stay in row
// order; one block per first occurrence of a token then adds those rows, column by column, onto the
// table's current value in that order: the very additions of cpu/embedding.cpp, so the result is
// bit-identical to the CPU backend's. Position gradients gather over the batch the same way.
#include "clustersim/executor/cuda/embedding.hpp"

#include <cub/device/device_radix_sort.cuh>

#include "check.hpp"
#include "clustersim/executor/cuda/launch.hpp"
#include "device_info.hpp"
#include "device_math.cuh"

namespace clustersim::executor::cuda {

namespace {

using dev::i64;
using dev::load;
using dev::store;

__device__ __forceinline__ i64 position_of(i64 row, i64 batch, i64 seq, i64 shards) {
  if (shards <= 1) return row % seq;
  const i64 local = seq / shards;
  return (row / (batch * local)) * local + row % local;
}

// Row (in the buffer's order) of batch b, position t.
__device__ __forceinline__ i64 row_of(i64 b, i64 t, i64 batch, i64 seq, i64 shards) {
  if (shards <= 1) return b * seq + t;
  const i64 local = seq / shards;
  return ((t / local) * batch + b) * local + t % local;
}

__global__ void k_embedding_forward(void* x, DType tx, const std::int32_t* tokens, const void* wte, DType tw,
                                    const void* wpe, DType tp, cpu::EmbeddingShape s) {
  CLUSTERSIM_GRID_LOOP(i, s.batch * s.seq * s.dim) {
    const i64 r = i / s.dim, c = i % s.dim;
    const i64 tok = static_cast<i64>(tokens[r]) - s.vocab_offset;
    const bool here = tok >= 0 && tok < s.vocab;
    const float e = here ? load(wte, tw, tok * s.dim + c) : 0.0f;
    const float p = wpe != nullptr ? load(wpe, tp, position_of(r, s.batch, s.seq, s.seq_shards) * s.dim + c) : 0.0f;
    store(x, tx, i, e + p);
  }
}

__global__ void k_iota(int* v, i64 n) {
  CLUSTERSIM_GRID_LOOP(i, n) v[i] = static_cast<int>(i);
}

// One block per sorted position; the block at a token's first occurrence adds its rows in row order.
__global__ void k_scatter_sorted(void* dwte, DType tw, const void* dx, DType tx, const std::int32_t* keys,
                                 const int* rows, i64 n, i64 dim, i64 vocab, i64 offset) {
  const i64 i = blockIdx.x;
  const std::int32_t key = keys[i];
  if (i > 0 && keys[i - 1] == key) return;
  const i64 tok = static_cast<i64>(key) - offset;
  if (tok < 0 || tok >= vocab) return;
  for (i64 c = threadIdx.x; c < dim; c += blockDim.x) {
    float acc = load(dwte, tw, tok * dim + c);
    for (i64 j = i; j < n && keys[j] == key; ++j) acc += load(dx, tx, static_cast<i64>(rows[j]) * dim + c);
    store(dwte, tw, tok * dim + c, acc);
  }
}

// dwpe[offset + t, c] += dx[row(b, t), c] for b = 0 .. B-1 in order.
__global__ void k_position_gather(void* dwpe, DType tp, const void* dx, DType tx, i64 batch, i64 seq, i64 dim,
                                  i64 shards, i64 offset) {
  CLUSTERSIM_GRID_LOOP(i, seq * dim) {
    const i64 t = i / dim, c = i % dim;
    float acc = load(dwpe, tp, (offset + t) * dim + c);
    for (i64 b = 0; b < batch; ++b) acc += load(dx, tx, row_of(b, t, batch, seq, shards) * dim + c);
    store(dwpe, tp, (offset + t) * dim + c, acc);
  }
}

__global__ void k_position_add(void* x, DType tx, const void* wpe, DType tp, i64 batch, i64 seq, i64 dim,
                               i64 offset) {
  CLUSTERSIM_GRID_LOOP(i, batch * seq * dim) {
    const i64 t = (i / dim) % seq, c = i % dim;
    store(x, tx, i, load(x, tx, i) + load(wpe, tp, (offset + t) * dim + c));
  }
}

LaunchConfig grid_for(i64 n) {
  return elementwise_launch(n, detail::current_device_info().sm_count);
}

}  // namespace

void embedding_forward(DeviceTensor x, const std::int32_t* tokens, ConstDeviceTensor wte, ConstDeviceTensor wpe,
                       const cpu::EmbeddingShape& shape, DeviceStream stream) {
  const i64 n = shape.batch * shape.seq * shape.dim;
  if (n <= 0) return;
  const LaunchConfig lc = grid_for(n);
  k_embedding_forward<<<static_cast<unsigned>(lc.blocks), lc.threads, 0, stream>>>(
      x.data, x.dtype, tokens, wte.data, wte.dtype, wpe.data, wpe.dtype, shape);
  CUDA_CHECK_LAUNCH();
}

void embedding_backward(DeviceTensor dwte, DeviceTensor dwpe, ConstDeviceTensor dx, const std::int32_t* tokens,
                        const cpu::EmbeddingShape& shape, DeviceScratch& scratch, DeviceStream stream) {
  const i64 rows = shape.batch * shape.seq;
  if (rows <= 0) return;
  const int n = static_cast<int>(rows);
  std::size_t temp_bytes = 0;
  CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, tokens, static_cast<std::int32_t*>(nullptr),
                                             static_cast<const int*>(nullptr), static_cast<int*>(nullptr), n, 0, 32,
                                             stream));
  const std::size_t ints = scratch_align(static_cast<std::size_t>(n) * sizeof(int));
  ScratchCarver carve(scratch.get(3 * ints + scratch_align(temp_bytes)));
  auto* keys = carve.take<std::int32_t>(static_cast<std::size_t>(n));
  auto* rows_in = carve.take<int>(static_cast<std::size_t>(n));
  auto* rows_out = carve.take<int>(static_cast<std::size_t>(n));
  void* temp = carve.take<std::byte>(temp_bytes);
  const LaunchConfig lc = grid_for(rows);
  k_iota<<<static_cast<unsigned>(lc.blocks), lc.threads, 0, stream>>>(rows_in, rows);
  CUDA_CHECK_LAUNCH();
  CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp, temp_bytes, tokens, keys, rows_in, rows_out, n, 0, 32, stream));
  const int threads = shape.dim >= 256 ? 256 : 128;
  k_scatter_sorted<<<static_cast<unsigned>(rows), threads, 0, stream>>>(
      dwte.data, dwte.dtype, dx.data, dx.dtype, keys, rows_out, rows, shape.dim, shape.vocab, shape.vocab_offset);
  CUDA_CHECK_LAUNCH();
  if (dwpe.data != nullptr) {
    const LaunchConfig pc = grid_for(shape.seq * shape.dim);
    k_position_gather<<<static_cast<unsigned>(pc.blocks), pc.threads, 0, stream>>>(
        dwpe.data, dwpe.dtype, dx.data, dx.dtype, shape.batch, shape.seq, shape.dim, shape.seq_shards, 0);
    CUDA_CHECK_LAUNCH();
  }
}

void position_add_forward(DeviceTensor x, ConstDeviceTensor wpe, std::int64_t batch, std::int64_t seq,
                          std::int64_t dim, std::int64_t position_offset, DeviceStream stream) {
  const i64 n = batch * seq * dim;
  if (n <= 0) return;
  const LaunchConfig lc = grid_for(n);
  k_position_add<<<static_cast<unsigned>(lc.blocks), lc.threads, 0, stream>>>(x.data, x.dtype, wpe.data, wpe.dtype,
                                                                               batch, seq, dim, position_offset);
  CUDA_CHECK_LAUNCH();
}

void position_add_backward(DeviceTensor dwpe, ConstDeviceTensor dx, std::int64_t batch, std::int64_t seq,
                           std::int64_t dim, std::int64_t position_offset, DeviceStream stream) {
  const i64 n = seq * dim;
  if (n <= 0) return;
  const LaunchConfig lc = grid_for(n);
  k_position_gather<<<static_cast<unsigned>(lc.blocks), lc.threads, 0, stream>>>(
      dwpe.data, dwpe.dtype, dx.data, dx.dtype, batch, seq, dim, 1, position_offset);
  CUDA_CHECK_LAUNCH();
}

}  // namespace clustersim::executor::cuda
