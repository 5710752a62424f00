// Launch configurations of the CUDA kernels, as plain host code (the kernels read the same structs),
// so grid sizes, tile shapes and shared-memory budgets are unit-tested without a device:
//  * elementwise_launch: grid-stride loops over n elements, at most a few waves of blocks;
//  * row_launch: one warp per row (norms, softmax rows), a fixed number of warps per block;
//  * column_reduce_launch: column sums over many rows in deterministic two-level form (partials of
//    row chunks, then one pass over the partials);
//  * attention_tiles: the tile shape and shared-memory layout of the fused attention kernels, chosen
//    to fit the device's opt-in shared memory per block (A100: 163 KiB, H100: 227 KiB).
#pragma once

#include <cstddef>
#include <cstdint>

#include "clustersim/plan/types.hpp"

namespace clustersim::executor::cuda {

struct LaunchConfig {
  std::int64_t blocks = 1;
  int threads = 256;
  std::size_t shared_bytes = 0;
};

inline constexpr std::int64_t kMaxGridBlocks = 2147483647;  // gridDim.x limit
inline constexpr std::int64_t kBlocksPerSmWave = 8;         // blocks per SM a grid-stride kernel aims at

// Grid for a grid-stride loop over `n` items with `threads` per block: enough blocks to cover n, at
// most kBlocksPerSmWave * sm_count (at least one block, also for n == 0).
LaunchConfig elementwise_launch(std::int64_t n, int sm_count, int threads = 256);

// One warp per row, `warps` rows per block: blocks = ceil(rows / warps), threads = 32 * warps.
LaunchConfig row_launch(std::int64_t rows, int warps = 8);

// Column sums of a (rows x cols) matrix: blocks over (column tiles of `threads` columns) x (row
// chunks); each block writes partials[chunk][col], then a second pass sums the chunks in order.
struct ColumnReduceConfig {
  std::int64_t column_tiles = 1, row_chunks = 1, rows_per_chunk = 1;
  int threads = 256;
  std::int64_t partial_elements() const { return row_chunks * column_tiles * threads; }
};
ColumnReduceConfig column_reduce_launch(std::int64_t rows, std::int64_t cols, int sm_count);

// Tiles of the fused attention kernels. One block of `threads` threads works on one tile of query
// rows (forward: block_q rows of one head) or key rows (backward: block_kv rows of one kv head).
// Shared memory holds tiles of the storage type (2 bytes with tensor cores for bf16/fp16, else 4:
// fp32) with row padding against bank conflicts, and fp32 score/accumulator tiles. Offsets are in
// bytes from the start of dynamic shared memory, each 128-byte aligned.
struct AttentionTiles {
  int block_q = 0, block_kv = 0, head_dim = 0, threads = 128;
  bool tensor_cores = false;
  int element_bytes = 4;
  int ld_e = 0;   // leading dimension (elements) of storage-type tiles with head_dim columns
  int ld_p = 0;   // leading dimension of storage-type tiles with block_kv columns (P, dS)
  int ld_f = 0;   // leading dimension of fp32 tiles with block_kv columns (S, dP)
  int ld_o = 0;   // leading dimension of fp32 tiles with head_dim columns (O, dK, dV, dQ)
  // forward offsets: q, k, v (storage), s (fp32), p (storage), o (fp32), row_max/row_sum/row_scale
  // backward offsets: k, v, q, dout (storage), dk, dv, s, dp, dq (fp32; dq may alias s..dp),
  //                   p, ds (storage), lse, delta (fp32 rows)
  std::size_t off_q = 0, off_k = 0, off_v = 0, off_dout = 0, off_s = 0, off_dp = 0, off_p = 0, off_ds = 0;
  std::size_t off_o = 0, off_dk = 0, off_dv = 0, off_dq = 0, off_row0 = 0, off_row1 = 0, off_row2 = 0;
  std::size_t shared_bytes = 0;
  bool valid() const { return block_q > 0; }
};

// The largest tile configuration of `direction` for `head_dim` that fits `max_shared_bytes`, or an
// invalid (block_q == 0) one when none does. Tensor cores when `tensor_cores` (bf16/fp16 storage with
// head_dim a multiple of 16); then block sizes are multiples of 16.
AttentionTiles attention_tiles(Direction direction, std::int64_t head_dim, bool tensor_cores,
                               std::size_t max_shared_bytes);

// Whether the tensor-core attention path can run `head_dim` on `dtype` storage.
bool attention_uses_tensor_cores(DType dtype, std::int64_t head_dim);

}  // namespace clustersim::executor::cuda
