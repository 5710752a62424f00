// Tests for cuda/launch.hpp: grid sizes of the elementwise, row and column-reduction kernels, and the
// attention tiles and shared-memory layouts against the A100 and H100 budgets, without a device.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "clustersim/executor/cuda/launch.hpp"

namespace clustersim::executor::cuda {
namespace {

constexpr std::size_t kA100 = 166912;  // opt-in shared memory per block, bytes
constexpr std::size_t kH100 = 232448;

TEST(Launch, ElementwiseGridsCoverAndCap) {
  EXPECT_EQ(elementwise_launch(0, 132).blocks, 1);
  EXPECT_EQ(elementwise_launch(1000, 132).blocks, 4);
  EXPECT_EQ(elementwise_launch(1000, 132).threads, 256);
  EXPECT_EQ(elementwise_launch(std::int64_t{1} << 40, 132).blocks, kBlocksPerSmWave * 132);
  const LaunchConfig c = elementwise_launch(1 << 20, 108, 128);
  EXPECT_EQ(c.threads, 128);
  EXPECT_LE(c.blocks, kBlocksPerSmWave * 108);
}

TEST(Launch, OneWarpPerRow) {
  const LaunchConfig c = row_launch(1001, 8);
  EXPECT_EQ(c.threads, 256);
  EXPECT_EQ(c.blocks, 126);
  EXPECT_EQ(row_launch(0).blocks, 1);
}

TEST(Launch, ColumnReductionsCoverEveryRowOnce) {
  for (std::int64_t rows : {1, 7, 1000, 65536, 1 << 22})
    for (std::int64_t cols : {1, 300, 4096}) {
      const ColumnReduceConfig c = column_reduce_launch(rows, cols, 132);
      EXPECT_GE(c.column_tiles * c.threads, cols);
      EXPECT_GE(c.row_chunks * c.rows_per_chunk, rows) << rows << " x " << cols;
      EXPECT_LT((c.row_chunks - 1) * c.rows_per_chunk, rows) << "no empty chunk";
      EXPECT_LE(c.row_chunks, 1024);
    }
}

TEST(Launch, TensorCoreAttentionNeedsSixteenBitAndMultiplesOfSixteen) {
  EXPECT_TRUE(attention_uses_tensor_cores(DType::bf16, 64));
  EXPECT_TRUE(attention_uses_tensor_cores(DType::fp16, 128));
  EXPECT_FALSE(attention_uses_tensor_cores(DType::fp32, 64));
  EXPECT_FALSE(attention_uses_tensor_cores(DType::bf16, 72 + 4));
  EXPECT_FALSE(attention_uses_tensor_cores(DType::bf16, 512));
}

TEST(Launch, AttentionTilesFitAndAlign) {
  for (std::size_t budget : {kA100, kH100})
    for (Direction dir : {Direction::forward, Direction::backward})
      for (bool tc : {true, false})
        for (std::int64_t d : {16, 32, 64, 80, 96, 128, 256}) {
          SCOPED_TRACE(testing::Message() << "budget " << budget << " dir " << static_cast<int>(dir) << " tc " << tc
                                          << " d " << d);
          const AttentionTiles t = attention_tiles(dir, d, tc, budget);
          ASSERT_TRUE(t.valid());
          EXPECT_LE(t.shared_bytes, budget);
          EXPECT_EQ(t.threads, 128);
          EXPECT_LE(t.block_kv, 64);  // the softmax loop handles two columns per lane
          std::vector<std::size_t> offsets = {t.off_q, t.off_k, t.off_v, t.off_s, t.off_p, t.off_row0, t.off_row1};
          if (dir == Direction::forward) offsets.push_back(t.off_o);
          if (dir == Direction::backward)
            offsets.insert(offsets.end(), {t.off_dout, t.off_dk, t.off_dv, t.off_dp, t.off_dq, t.off_ds});
          for (std::size_t o : offsets) EXPECT_EQ(o % 128, 0u);
          if (tc) {  // WMMA: 16-row steps, ldm multiples of 8 (16-bit) and 4 (fp32)
            EXPECT_EQ(t.block_q % 16, 0);
            EXPECT_EQ(t.block_kv % 16, 0);
            EXPECT_EQ(t.ld_e % 8, 0);
            EXPECT_EQ(t.ld_p % 8, 0);
            EXPECT_EQ(t.element_bytes, 2);
          }
          EXPECT_EQ(t.ld_f % 4, 0);
          EXPECT_EQ(t.ld_o % 4, 0);
        }
}

TEST(Launch, AttentionTilesPreferLargeTilesAndShrinkToFit) {
  const AttentionTiles h100 = attention_tiles(Direction::forward, 128, true, kH100);
  EXPECT_EQ(h100.block_q, 64);
  EXPECT_EQ(h100.block_kv, 64);
  const AttentionTiles b128 = attention_tiles(Direction::backward, 128, true, kA100);
  EXPECT_EQ(b128.block_q, 32);
  EXPECT_EQ(b128.block_kv, 64);
  EXPECT_EQ(b128.off_dq, b128.off_s) << "dQ reuses the dead score tiles when they are large enough";
  const AttentionTiles small = attention_tiles(Direction::backward, 256, true, kA100);
  ASSERT_TRUE(small.valid());
  EXPECT_LT(small.block_q * small.block_kv, 32 * 64);
  EXPECT_FALSE(attention_tiles(Direction::forward, 128, true, 16 * 1024).valid());
  EXPECT_FALSE(attention_tiles(Direction::forward, 0, false, kH100).valid());
  EXPECT_FALSE(attention_tiles(Direction::forward, 24, true, kH100).valid()) << "tensor cores need multiples of 16";
}

}  // namespace
}  // namespace clustersim::executor::cuda
