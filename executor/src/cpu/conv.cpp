// 2-D convolution by im2col + cblas_sgemm, one image at a time (1x1 stride-1 unpadded convolutions
// use the activations directly as the column matrix).
#include "clustersim/executor/cpu/conv.hpp"

#include <cblas.h>

#include <algorithm>
#include <cstring>

namespace clustersim::executor::cpu {

namespace {

bool is_pointwise(const ConvShape& s) {
  return s.kernel_h == 1 && s.kernel_w == 1 && s.stride == 1 && s.padding == 0;
}

// col(P*Q, R*S*C) of image x(H,W,C).
void im2col(float* col, const float* x, const ConvShape& s) {
  const std::int64_t P = s.out_height(), Q = s.out_width(), C = s.in_channels;
  const std::int64_t rsc = s.kernel_h * s.kernel_w * C;
  for (std::int64_t p = 0; p < P; ++p)
    for (std::int64_t q = 0; q < Q; ++q) {
      float* row = col + (p * Q + q) * rsc;
      for (std::int64_t r = 0; r < s.kernel_h; ++r)
        for (std::int64_t t = 0; t < s.kernel_w; ++t) {
          float* dst = row + (r * s.kernel_w + t) * C;
          const std::int64_t h = p * s.stride - s.padding + r, w = q * s.stride - s.padding + t;
          if (h < 0 || h >= s.height || w < 0 || w >= s.width) {
            std::fill(dst, dst + C, 0.0f);
          } else {
            std::memcpy(dst, x + (h * s.width + w) * C, static_cast<std::size_t>(C) * sizeof(float));
          }
        }
    }
}

// dx(H,W,C) += scatter of col(P*Q, R*S*C).
void col2im(float* dx, const float* col, const ConvShape& s) {
  const std::int64_t P = s.out_height(), Q = s.out_width(), C = s.in_channels;
  const std::int64_t rsc = s.kernel_h * s.kernel_w * C;
  for (std::int64_t p = 0; p < P; ++p)
    for (std::int64_t q = 0; q < Q; ++q) {
      const float* row = col + (p * Q + q) * rsc;
      for (std::int64_t r = 0; r < s.kernel_h; ++r)
        for (std::int64_t t = 0; t < s.kernel_w; ++t) {
          const std::int64_t h = p * s.stride - s.padding + r, w = q * s.stride - s.padding + t;
          if (h < 0 || h >= s.height || w < 0 || w >= s.width) continue;
          const float* src = row + (r * s.kernel_w + t) * C;
          float* dst = dx + (h * s.width + w) * C;
          for (std::int64_t c = 0; c < C; ++c) dst[c] += src[c];
        }
    }
}

void sgemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda,
           const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc) {
  if (m == 0 || n == 0 || k == 0) return;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<blasint>(m),
              static_cast<blasint>(n), static_cast<blasint>(k), 1.0f, a, static_cast<blasint>(lda), b,
              static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

}  // namespace

std::int64_t conv2d_workspace_elements(const ConvShape& s) {
  return is_pointwise(s) ? 0 : s.out_height() * s.out_width() * s.kernel_h * s.kernel_w * s.in_channels;
}

void conv2d_forward(float* y, const float* x, const float* w, const ConvShape& s, float* workspace) {
  const std::int64_t PQ = s.out_height() * s.out_width(), rsc = s.kernel_h * s.kernel_w * s.in_channels;
  const std::int64_t K = s.out_channels, image = s.height * s.width * s.in_channels;
  for (std::int64_t n = 0; n < s.batch; ++n) {
    const float* col = x + n * image;
    if (!is_pointwise(s)) {
      im2col(workspace, x + n * image, s);
      col = workspace;
    }
    sgemm(false, true, PQ, K, rsc, col, rsc, w, rsc, 0.0f, y + n * PQ * K, K);
  }
}

void conv2d_backward_data(float* dx, const float* dy, const float* w, const ConvShape& s, float* workspace) {
  const std::int64_t PQ = s.out_height() * s.out_width(), rsc = s.kernel_h * s.kernel_w * s.in_channels;
  const std::int64_t K = s.out_channels, image = s.height * s.width * s.in_channels;
  for (std::int64_t n = 0; n < s.batch; ++n) {
    if (is_pointwise(s)) {
      sgemm(false, false, PQ, rsc, K, dy + n * PQ * K, K, w, rsc, 0.0f, dx + n * image, rsc);
      continue;
    }
    sgemm(false, false, PQ, rsc, K, dy + n * PQ * K, K, w, rsc, 0.0f, workspace, rsc);
    std::fill(dx + n * image, dx + (n + 1) * image, 0.0f);
    col2im(dx + n * image, workspace, s);
  }
}

void conv2d_backward_filter(float* dw, const float* dy, const float* x, const ConvShape& s, float* workspace) {
  const std::int64_t PQ = s.out_height() * s.out_width(), rsc = s.kernel_h * s.kernel_w * s.in_channels;
  const std::int64_t K = s.out_channels, image = s.height * s.width * s.in_channels;
  for (std::int64_t n = 0; n < s.batch; ++n) {
    const float* col = x + n * image;
    if (!is_pointwise(s)) {
      im2col(workspace, x + n * image, s);
      col = workspace;
    }
    sgemm(true, false, K, rsc, PQ, dy + n * PQ * K, K, col, rsc, 1.0f, dw, rsc);
  }
}

}  // namespace clustersim::executor::cpu
