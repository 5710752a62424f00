// Scaled dot-product attention on the CPU. Both variants work per (batch, query head) on blocks of
// query rows, with the score and value products done by cblas_sgemm on strided views of the packed
// qkv buffer; the flash variant keeps only a block of scores at a time and recomputes them backward.
#include "clustersim/executor/cpu/attention.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "clustersim/executor/rng.hpp"
#include "clustersim/plan/error.hpp"

namespace clustersim::executor::cpu {

namespace {

constexpr std::int64_t kRowBlock = 64;

struct Geometry {
  std::int64_t B, H, KV, T, D, W, HD, group, heads_total;
  float scale, p, inv_keep;
  bool causal;
  explicit Geometry(const AttentionShape& s)
      : B(s.batch),
        H(s.heads),
        KV(s.kv_heads),
        T(s.seq),
        D(s.head_dim),
        W(s.qkv_width()),
        HD(s.heads * s.head_dim),
        group(s.kv_heads > 0 ? s.heads / s.kv_heads : 1),
        heads_total(s.heads_total > 0 ? s.heads_total : s.heads),
        scale(1.0f / std::sqrt(static_cast<float>(s.head_dim))),
        p(s.dropout),
        inv_keep(s.dropout > 0.0f ? 1.0f / (1.0f - s.dropout) : 1.0f),
        causal(s.causal) {
    require(H > 0 && KV > 0 && H % KV == 0, "attention: heads must be a positive multiple of kv_heads");
    require(p >= 0.0f && p < 1.0f, "attention: dropout must be in [0, 1)");
  }
  std::int64_t q_off(std::int64_t b, std::int64_t t, std::int64_t h) const { return (b * T + t) * W + h * D; }
  std::int64_t k_off(std::int64_t b, std::int64_t t, std::int64_t h) const {
    return (b * T + t) * W + (H + h / group) * D;
  }
  std::int64_t v_off(std::int64_t b, std::int64_t t, std::int64_t h) const {
    return (b * T + t) * W + (H + KV + h / group) * D;
  }
  std::int64_t o_off(std::int64_t b, std::int64_t t, std::int64_t h) const { return (b * T + t) * HD + h * D; }
  std::uint64_t drop_index(std::int64_t b, std::int64_t h, std::int64_t i, std::int64_t j, std::int64_t offset) const {
    return static_cast<std::uint64_t>(((b * heads_total + offset + h) * T + i) * T + j);
  }
  std::int64_t cols_for(std::int64_t r0, std::int64_t rb) const { return causal ? std::min(T, r0 + rb) : T; }
};

void sgemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, float alpha, const float* a,
           std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc) {
  if (m == 0 || n == 0) return;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<blasint>(m),
              static_cast<blasint>(n), static_cast<blasint>(k), alpha, a, static_cast<blasint>(lda), b,
              static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

// Scores of query rows [r0, r0+rb) against keys [0, nc): s(rb x nc) = scale * Q K^T, causal-masked
// entries set to -inf.
void scores(float* s, const float* qkv, const Geometry& g, std::int64_t b, std::int64_t h, std::int64_t r0,
            std::int64_t rb, std::int64_t nc) {
  sgemm(false, true, rb, nc, g.D, g.scale, qkv + g.q_off(b, r0, h), g.W, qkv + g.k_off(b, 0, h), g.W, 0.0f, s, nc);
  if (g.causal) {
    for (std::int64_t ii = 0; ii < rb; ++ii)
      for (std::int64_t j = r0 + ii + 1; j < nc; ++j) s[ii * nc + j] = -std::numeric_limits<float>::infinity();
  }
}

// In place: row-wise softmax of s(rb x nc); writes lse when not null.
void softmax_rows(float* s, float* lse, std::int64_t rb, std::int64_t nc) {
  for (std::int64_t ii = 0; ii < rb; ++ii) {
    float* row = s + ii * nc;
    float mx = -std::numeric_limits<float>::infinity();
    for (std::int64_t j = 0; j < nc; ++j) mx = std::max(mx, row[j]);
    double sum = 0.0;
    for (std::int64_t j = 0; j < nc; ++j) {
      row[j] = std::exp(row[j] - mx);
      sum += row[j];
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (std::int64_t j = 0; j < nc; ++j) row[j] *= inv;
    if (lse != nullptr) lse[ii] = mx + static_cast<float>(std::log(sum));
  }
}

// The shared backward core for one block of rows. p: probabilities (rb x nc); pd: probabilities after
// dropout (== p without dropout); keep(ii, j) tells kept elements. rowdot[ii] = sum_j dPd*Pd for the row.
// ds holds dPd = dO V^T (rb x nc) on entry and is overwritten with dS. Accumulates dV and dK, writes dQ.
template <typename Keep>
void backward_block(float* dqkv, const float* dout, const float* qkv, const float* p, const float* pd,
                    const float* rowdot, float* ds, const Geometry& g, std::int64_t b, std::int64_t h, std::int64_t r0,
                    std::int64_t rb, std::int64_t nc, Keep keep) {
  // dV[0:nc] += Pd^T dO
  sgemm(true, false, nc, g.D, rb, 1.0f, pd, nc, dout + g.o_off(b, r0, h), g.HD, 1.0f, dqkv + g.v_off(b, 0, h), g.W);
  for (std::int64_t ii = 0; ii < rb; ++ii) {
    float* row = ds + ii * nc;
    const float* prow = p + ii * nc;
    for (std::int64_t j = 0; j < nc; ++j) {
      const float dp = g.p > 0.0f ? (keep(ii, j) ? row[j] * g.inv_keep : 0.0f) : row[j];
      row[j] = prow[j] * (dp - rowdot[ii]) * g.scale;
    }
  }
  // dQ = dS K ; dK[0:nc] += dS^T Q
  sgemm(false, false, rb, g.D, nc, 1.0f, ds, nc, qkv + g.k_off(b, 0, h), g.W, 0.0f, dqkv + g.q_off(b, r0, h), g.W);
  sgemm(true, false, nc, g.D, rb, 1.0f, ds, nc, qkv + g.q_off(b, r0, h), g.W, 1.0f, dqkv + g.k_off(b, 0, h), g.W);
}

void forward_flash_natural(float* out, float* lse, const float* qkv, const AttentionShape& shape) {
  const Geometry g(shape);
  std::vector<float> s(static_cast<std::size_t>(kRowBlock * g.T));
  for (std::int64_t b = 0; b < g.B; ++b)
    for (std::int64_t h = 0; h < g.H; ++h)
      for (std::int64_t r0 = 0; r0 < g.T; r0 += kRowBlock) {
        const std::int64_t rb = std::min(kRowBlock, g.T - r0), nc = g.cols_for(r0, rb);
        scores(s.data(), qkv, g, b, h, r0, rb, nc);
        softmax_rows(s.data(), lse + (b * g.H + h) * g.T + r0, rb, nc);
        if (g.p > 0.0f) {
          for (std::int64_t ii = 0; ii < rb; ++ii)
            for (std::int64_t j = 0; j < nc; ++j) {
              const bool kept = dropout_keep(shape.dropout_key, g.drop_index(b, h, r0 + ii, j, shape.head_offset), g.p);
              s[static_cast<std::size_t>(ii * nc + j)] *= kept ? g.inv_keep : 0.0f;
            }
        }
        sgemm(false, false, rb, g.D, nc, 1.0f, s.data(), nc, qkv + g.v_off(b, 0, h), g.W, 0.0f, out + g.o_off(b, r0, h),
              g.HD);
      }
}

void backward_flash_natural(float* dqkv, const float* dout, const float* qkv, const float* out, const float* lse,
                            const AttentionShape& shape) {
  const Geometry g(shape);
  std::memset(dqkv, 0, static_cast<std::size_t>(g.B * g.T * g.W) * sizeof(float));
  std::vector<float> p(static_cast<std::size_t>(kRowBlock * g.T)), pd, ds(p.size()), rowdot(kRowBlock);
  if (g.p > 0.0f) pd.resize(p.size());
  for (std::int64_t b = 0; b < g.B; ++b)
    for (std::int64_t h = 0; h < g.H; ++h)
      for (std::int64_t r0 = 0; r0 < g.T; r0 += kRowBlock) {
        const std::int64_t rb = std::min(kRowBlock, g.T - r0), nc = g.cols_for(r0, rb);
        scores(p.data(), qkv, g, b, h, r0, rb, nc);
        const float* l = lse + (b * g.H + h) * g.T + r0;
        for (std::int64_t ii = 0; ii < rb; ++ii) {
          float* row = p.data() + ii * nc;
          for (std::int64_t j = 0; j < nc; ++j) row[j] = std::exp(row[j] - l[ii]);
          // sum_j dPd*Pd = dO . out for the row (out = Pd V)
          const float* o = out + g.o_off(b, r0 + ii, h);
          const float* d = dout + g.o_off(b, r0 + ii, h);
          double acc = 0.0;
          for (std::int64_t e = 0; e < g.D; ++e) acc += static_cast<double>(o[e]) * d[e];
          rowdot[static_cast<std::size_t>(ii)] = static_cast<float>(acc);
        }
        auto keep = [&](std::int64_t ii, std::int64_t j) {
          return dropout_keep(shape.dropout_key, g.drop_index(b, h, r0 + ii, j, shape.head_offset), g.p);
        };
        const float* pdp = p.data();
        if (g.p > 0.0f) {
          for (std::int64_t ii = 0; ii < rb; ++ii)
            for (std::int64_t j = 0; j < nc; ++j) {
              const auto idx = static_cast<std::size_t>(ii * nc + j);
              pd[idx] = keep(ii, j) ? p[idx] * g.inv_keep : 0.0f;
            }
          pdp = pd.data();
        }
        sgemm(false, true, rb, nc, g.D, 1.0f, dout + g.o_off(b, r0, h), g.HD, qkv + g.v_off(b, 0, h), g.W, 0.0f,
              ds.data(), nc);
        backward_block(dqkv, dout, qkv, p.data(), pdp, rowdot.data(), ds.data(), g, b, h, r0, rb, nc, keep);
      }
}

void forward_natural(float* out, float* probs, std::uint8_t* mask, float* dropped, const float* qkv,
                     const AttentionShape& shape) {
  const Geometry g(shape);
  const std::int64_t TT = g.T * g.T;
  for (std::int64_t b = 0; b < g.B; ++b)
    for (std::int64_t h = 0; h < g.H; ++h) {
      float* pr = probs + (b * g.H + h) * TT;
      scores(pr, qkv, g, b, h, 0, g.T, g.T);
      softmax_rows(pr, nullptr, g.T, g.T);
      const float* pv = pr;
      if (g.p > 0.0f) {
        std::uint8_t* mk = mask + (b * g.H + h) * TT;
        float* dr = dropped + (b * g.H + h) * TT;
        for (std::int64_t i = 0; i < g.T; ++i)
          for (std::int64_t j = 0; j < g.T; ++j) {
            const bool kept = dropout_keep(shape.dropout_key, g.drop_index(b, h, i, j, shape.head_offset), g.p);
            mk[i * g.T + j] = kept ? 1 : 0;
            dr[i * g.T + j] = kept ? pr[i * g.T + j] * g.inv_keep : 0.0f;
          }
        pv = dr;
      }
      sgemm(false, false, g.T, g.D, g.T, 1.0f, pv, g.T, qkv + g.v_off(b, 0, h), g.W, 0.0f, out + g.o_off(b, 0, h),
            g.HD);
    }
}

void backward_natural(float* dqkv, const float* dout, const float* qkv, const float* probs, const std::uint8_t* mask,
                      const float* dropped, const AttentionShape& shape) {
  const Geometry g(shape);
  const std::int64_t TT = g.T * g.T;
  std::memset(dqkv, 0, static_cast<std::size_t>(g.B * g.T * g.W) * sizeof(float));
  std::vector<float> ds(static_cast<std::size_t>(TT)), rowdot(static_cast<std::size_t>(g.T));
  for (std::int64_t b = 0; b < g.B; ++b)
    for (std::int64_t h = 0; h < g.H; ++h) {
      const float* pr = probs + (b * g.H + h) * TT;
      const float* pd = g.p > 0.0f ? dropped + (b * g.H + h) * TT : pr;
      const std::uint8_t* mk = g.p > 0.0f ? mask + (b * g.H + h) * TT : nullptr;
      auto keep = [&](std::int64_t i, std::int64_t j) { return mk[i * g.T + j] != 0; };
      // rowdot_i = sum_j dP_ij P_ij with dP = dPd * mask / (1-p), dPd = dO V^T.
      sgemm(false, true, g.T, g.T, g.D, 1.0f, dout + g.o_off(b, 0, h), g.HD, qkv + g.v_off(b, 0, h), g.W, 0.0f,
            ds.data(), g.T);
      for (std::int64_t i = 0; i < g.T; ++i) {
        double acc = 0.0;
        for (std::int64_t j = 0; j < g.T; ++j) {
          const float dpd = ds[static_cast<std::size_t>(i * g.T + j)];
          const float dp = g.p > 0.0f ? (keep(i, j) ? dpd * g.inv_keep : 0.0f) : dpd;
          acc += static_cast<double>(dp) * pr[i * g.T + j];
        }
        rowdot[static_cast<std::size_t>(i)] = static_cast<float>(acc);
      }
      backward_block(dqkv, dout, qkv, pr, pd, rowdot.data(), ds.data(), g, b, h, 0, g.T, g.T, keep);
    }
}

// Reorders B*T rows of `width` floats between shard-major and natural order.
std::vector<float> to_natural(const float* src, const AttentionShape& s, std::int64_t width) {
  std::vector<float> dst(static_cast<std::size_t>(s.batch * s.seq * width));
  const std::int64_t local = s.seq / s.seq_shards;
  for (std::int64_t b = 0; b < s.batch; ++b)
    for (std::int64_t t = 0; t < s.seq; ++t) {
      const std::int64_t row = ((t / local) * s.batch + b) * local + t % local;
      std::copy(src + row * width, src + (row + 1) * width, dst.data() + (b * s.seq + t) * width);
    }
  return dst;
}

void to_sharded(float* dst, const std::vector<float>& src, const AttentionShape& s, std::int64_t width) {
  const std::int64_t local = s.seq / s.seq_shards;
  for (std::int64_t b = 0; b < s.batch; ++b)
    for (std::int64_t t = 0; t < s.seq; ++t) {
      const std::int64_t row = ((t / local) * s.batch + b) * local + t % local;
      std::copy(src.data() + (b * s.seq + t) * width, src.data() + (b * s.seq + t + 1) * width, dst + row * width);
    }
}

bool sharded(const AttentionShape& s) {
  if (s.seq_shards <= 1) return false;
  require(s.seq % s.seq_shards == 0, "attention: seq must be a multiple of seq_shards");
  return true;
}

}  // namespace

void attention_forward_flash(float* out, float* lse, const float* qkv, const AttentionShape& shape) {
  if (!sharded(shape)) return forward_flash_natural(out, lse, qkv, shape);
  const std::vector<float> q = to_natural(qkv, shape, shape.qkv_width());
  std::vector<float> o(static_cast<std::size_t>(shape.batch * shape.seq * shape.heads * shape.head_dim));
  forward_flash_natural(o.data(), lse, q.data(), shape);
  to_sharded(out, o, shape, shape.heads * shape.head_dim);
}

void attention_backward_flash(float* dqkv, const float* dout, const float* qkv, const float* out, const float* lse,
                              const AttentionShape& shape) {
  if (!sharded(shape)) return backward_flash_natural(dqkv, dout, qkv, out, lse, shape);
  const std::int64_t hd = shape.heads * shape.head_dim;
  const std::vector<float> q = to_natural(qkv, shape, shape.qkv_width()), d = to_natural(dout, shape, hd),
                           o = to_natural(out, shape, hd);
  std::vector<float> dq(q.size());
  backward_flash_natural(dq.data(), d.data(), q.data(), o.data(), lse, shape);
  to_sharded(dqkv, dq, shape, shape.qkv_width());
}

void attention_forward(float* out, float* probs, std::uint8_t* mask, float* dropped, const float* qkv,
                       const AttentionShape& shape) {
  if (!sharded(shape)) return forward_natural(out, probs, mask, dropped, qkv, shape);
  const std::vector<float> q = to_natural(qkv, shape, shape.qkv_width());
  std::vector<float> o(static_cast<std::size_t>(shape.batch * shape.seq * shape.heads * shape.head_dim));
  forward_natural(o.data(), probs, mask, dropped, q.data(), shape);
  to_sharded(out, o, shape, shape.heads * shape.head_dim);
}

void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* probs, const std::uint8_t* mask,
                        const float* dropped, const AttentionShape& shape) {
  if (!sharded(shape)) return backward_natural(dqkv, dout, qkv, probs, mask, dropped, shape);
  const std::vector<float> q = to_natural(qkv, shape, shape.qkv_width()),
                           d = to_natural(dout, shape, shape.heads * shape.head_dim);
  std::vector<float> dq(q.size());
  backward_natural(dq.data(), d.data(), q.data(), probs, mask, dropped, shape);
  to_sharded(dqkv, dq, shape, shape.qkv_width());
}

}  // namespace clustersim::executor::cpu
