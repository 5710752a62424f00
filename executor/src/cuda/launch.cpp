// Launch configurations and attention tile layouts (cuda/launch.hpp).
#include "clustersim/executor/cuda/launch.hpp"

#include <algorithm>

namespace clustersim::executor::cuda {

LaunchConfig elementwise_launch(std::int64_t n, int sm_count, int threads) {
  LaunchConfig c;
  c.threads = threads;
  const std::int64_t needed = (std::max<std::int64_t>(n, 1) + threads - 1) / threads;
  const std::int64_t cap = kBlocksPerSmWave * std::max(1, sm_count);
  c.blocks = std::clamp<std::int64_t>(std::min(needed, cap), 1, kMaxGridBlocks);
  return c;
}

LaunchConfig row_launch(std::int64_t rows, int warps) {
  LaunchConfig c;
  c.threads = 32 * warps;
  c.blocks = std::clamp<std::int64_t>((std::max<std::int64_t>(rows, 1) + warps - 1) / warps, 1, kMaxGridBlocks);
  return c;
}

ColumnReduceConfig column_reduce_launch(std::int64_t rows, std::int64_t cols, int sm_count) {
  ColumnReduceConfig c;
  c.threads = 256;
  c.column_tiles = std::max<std::int64_t>(1, (cols + c.threads - 1) / c.threads);
  // enough row chunks for a few blocks per SM, each chunk at least 32 rows
  const std::int64_t want_blocks = 4 * std::max(1, sm_count);
  const std::int64_t chunks_for_blocks = std::max<std::int64_t>(1, want_blocks / c.column_tiles);
  const std::int64_t chunks_for_rows = std::max<std::int64_t>(1, rows / 32);
  c.row_chunks = std::clamp<std::int64_t>(std::min(chunks_for_blocks, chunks_for_rows), 1, 1024);
  c.rows_per_chunk = std::max<std::int64_t>(1, (rows + c.row_chunks - 1) / c.row_chunks);
  c.row_chunks = std::max<std::int64_t>(1, (rows + c.rows_per_chunk - 1) / c.rows_per_chunk);
  return c;
}

bool attention_uses_tensor_cores(DType dtype, std::int64_t head_dim) {
  return (dtype == DType::bf16 || dtype == DType::fp16) && head_dim % 16 == 0 && head_dim >= 16 && head_dim <= 256;
}

namespace {

struct Layout {
  std::size_t at = 0;
  std::size_t take(std::size_t bytes) {
    const std::size_t off = at;
    at = (at + bytes + 127u) / 128u * 128u;
    return off;
  }
};

AttentionTiles layout(Direction direction, int bq, int bkv, int d, bool tc) {
  AttentionTiles t;
  t.block_q = bq;
  t.block_kv = bkv;
  t.head_dim = d;
  t.threads = 128;
  t.tensor_cores = tc;
  t.element_bytes = tc ? 2 : 4;
  // 16-bit tiles: pad 8 elements (16 bytes, keeps WMMA's 32-byte alignment of 16-row steps);
  // fp32 storage tiles read by scalar loops: pad 1 so that rows fall in different banks.
  t.ld_e = d + (tc ? 8 : 1);
  t.ld_p = bkv + (tc ? 8 : 1);
  t.ld_f = bkv + 4;
  t.ld_o = d + 4;
  const std::size_t eb = static_cast<std::size_t>(t.element_bytes);
  const std::size_t rows = 8u * static_cast<std::size_t>(std::max(bq, bkv));  // room for doubles
  Layout l;
  if (direction == Direction::forward) {
    t.off_q = l.take(eb * static_cast<std::size_t>(bq * t.ld_e));
    t.off_k = l.take(eb * static_cast<std::size_t>(bkv * t.ld_e));
    t.off_v = l.take(eb * static_cast<std::size_t>(bkv * t.ld_e));
    t.off_s = l.take(4u * static_cast<std::size_t>(bq * t.ld_f));
    t.off_p = l.take(eb * static_cast<std::size_t>(bq * t.ld_p));
    t.off_o = l.take(4u * static_cast<std::size_t>(bq * t.ld_o));
    t.off_row0 = l.take(rows);
    t.off_row1 = l.take(rows);
    t.off_row2 = l.take(rows);
  } else {
    t.off_k = l.take(eb * static_cast<std::size_t>(bkv * t.ld_e));
    t.off_v = l.take(eb * static_cast<std::size_t>(bkv * t.ld_e));
    t.off_q = l.take(eb * static_cast<std::size_t>(bq * t.ld_e));
    t.off_dout = l.take(eb * static_cast<std::size_t>(bq * t.ld_e));
    t.off_dk = l.take(4u * static_cast<std::size_t>(bkv * t.ld_o));
    t.off_dv = l.take(4u * static_cast<std::size_t>(bkv * t.ld_o));
    const std::size_t s_bytes = 4u * static_cast<std::size_t>(bq * t.ld_f);
    const std::size_t dq_bytes = 4u * static_cast<std::size_t>(bq * t.ld_o);
    t.off_s = l.take(s_bytes);
    t.off_dp = l.take(s_bytes);
    // dQ's tile reuses the score tiles when it fits in them (they are dead by then)
    t.off_dq = dq_bytes <= t.off_dp + s_bytes - t.off_s ? t.off_s : l.take(dq_bytes);
    t.off_p = l.take(eb * static_cast<std::size_t>(bq * t.ld_p));
    t.off_ds = l.take(eb * static_cast<std::size_t>(bq * t.ld_p));
    t.off_row0 = l.take(rows);
    t.off_row1 = l.take(rows);
  }
  t.shared_bytes = l.at;
  return t;
}

}  // namespace

AttentionTiles attention_tiles(Direction direction, std::int64_t head_dim, bool tensor_cores,
                               std::size_t max_shared_bytes) {
  if (head_dim <= 0 || head_dim > 512) return {};
  const int d = static_cast<int>(head_dim);
  struct Shape {
    int bq, bkv;
  };
  // preference order: larger tiles first
  static constexpr Shape forward_tc[] = {{64, 64}, {32, 64}, {32, 32}, {16, 32}, {16, 16}};
  static constexpr Shape backward_tc[] = {{32, 64}, {32, 32}, {16, 32}, {16, 16}};
  static constexpr Shape forward_f32[] = {{32, 32}, {16, 32}, {16, 16}, {8, 16}};
  static constexpr Shape backward_f32[] = {{16, 32}, {16, 16}, {8, 16}};
  const Shape* list = nullptr;
  std::size_t count = 0;
  if (direction == Direction::forward) {
    list = tensor_cores ? forward_tc : forward_f32;
    count = tensor_cores ? std::size(forward_tc) : std::size(forward_f32);
  } else {
    list = tensor_cores ? backward_tc : backward_f32;
    count = tensor_cores ? std::size(backward_tc) : std::size(backward_f32);
  }
  if (tensor_cores && d % 16 != 0) return {};
  for (std::size_t i = 0; i < count; ++i) {
    const AttentionTiles t = layout(direction, list[i].bq, list[i].bkv, d, tensor_cores);
    if (t.shared_bytes <= max_shared_bytes) return t;
  }
  return {};
}

}  // namespace clustersim::executor::cuda
