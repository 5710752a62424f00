// GemmEngine: the Plan's gemm through cuBLASLt (cuda/gemm.hpp). Row-major C(m x n) = op(A) op(B) is
// the column-major product C^T(n x m) = op(B)^T op(A)^T, so the row-major buffers are handed to
// cuBLASLt unchanged with A and B swapped. Each distinct (shape, dtypes, flags, alignments) gets one
// matmul descriptor, three layouts and the heuristic's best algorithm, cached for the run.
#include "clustersim/executor/cuda/gemm.hpp"

#include <cublasLt.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "check.hpp"
#include "check_cublas.hpp"
#include "clustersim/executor/cuda/elementwise.hpp"
#include "clustersim/plan/error.hpp"
#include "device_info.hpp"

namespace clustersim::executor::cuda {

namespace {

constexpr std::size_t kWorkspaceBytes = 32u << 20;  // cuBLASLt's recommendation for Hopper

bool is_fp8(DType d) {
  return d == DType::fp8_e4m3 || d == DType::fp8_e5m2;
}
bool is_f32(DType d) {
  return d == DType::fp32 || d == DType::tf32;
}

cudaDataType_t cuda_type(DType d) {
  switch (d) {
    case DType::bf16:
      return CUDA_R_16BF;
    case DType::fp16:
      return CUDA_R_16F;
    case DType::fp8_e4m3:
      return CUDA_R_8F_E4M3;
    case DType::fp8_e5m2:
      return CUDA_R_8F_E5M2;
    default:
      return CUDA_R_32F;
  }
}

// Largest power of two (<= 256) dividing the address: cuBLASLt picks kernels by operand alignment.
std::uint32_t alignment_of(const void* p) {
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  std::uint32_t al = 256;
  while (al > 1 && (a % al) != 0) al >>= 1;
  return al;
}

// What one cuBLASLt call computes (after any staging), in cuBLASLt's column-major terms.
struct Call {
  std::int64_t m = 0, n = 0, k = 0, batch = 1;  // row-major shape
  bool ta = false, tb = false;
  DType a = DType::fp32, b = DType::fp32, d = DType::fp32;
  bool tf32 = false;
  bool bias_epilogue = false;
  std::uint32_t align_a = 256, align_b = 256, align_c = 256, align_bias = 256;
  auto key() const {
    return std::make_tuple(m, n, k, batch, ta, tb, static_cast<int>(a), static_cast<int>(b), static_cast<int>(d), tf32,
                           bias_epilogue, align_a, align_b, align_c, align_bias);
  }
};

struct Prepared {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t layout_a = nullptr, layout_b = nullptr, layout_c = nullptr;
  cublasLtMatmulAlgo_t algo{};
  bool ok = false;  // the heuristic found an algorithm
};

void set_batch(cublasLtMatrixLayout_t layout, std::int64_t batch, std::int64_t stride) {
  if (batch <= 1) return;
  const int count = static_cast<int>(batch);
  CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof count));
  CUBLAS_CHECK(
      cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof stride));
}

}  // namespace

struct GemmEngine::Impl {
  cublasLtHandle_t handle = nullptr;
  std::map<decltype(Call{}.key()), Prepared> cache;
  Stats stats;
  bool fp8 = false;
  std::string device;

  Impl() {
    CUBLAS_CHECK(cublasLtCreate(&handle));
    const detail::DeviceInfo& info = detail::current_device_info();
    fp8 = info.compute_capability() >= 89;
    device = info.name;
  }
  ~Impl() {
    for (auto& [key, p] : cache) {
      if (p.desc != nullptr) cublasLtMatmulDescDestroy(p.desc);
      for (auto* l : {p.layout_a, p.layout_b, p.layout_c})
        if (l != nullptr) cublasLtMatrixLayoutDestroy(l);
    }
    if (handle != nullptr) cublasLtDestroy(handle);
  }

  const Prepared& prepare(const Call& c) {
    auto [it, inserted] = cache.try_emplace(c.key());
    Prepared& p = it->second;
    if (!inserted) return p;
    ++stats.cache_misses;
    const cublasComputeType_t compute = is_f32(c.a) && c.tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    CUBLAS_CHECK(cublasLtMatmulDescCreate(&p.desc, compute, CUDA_R_32F));
    // column-major: A' = B (op T when tb), B' = A (op T when ta)
    const cublasOperation_t op_a = c.tb ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = c.ta ? CUBLAS_OP_T : CUBLAS_OP_N;
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSA, &op_a, sizeof op_a));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSB, &op_b, sizeof op_b));
    if (c.bias_epilogue) {
      const cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_BIAS;
      CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof epilogue));
    }
    const std::uint64_t m = static_cast<std::uint64_t>(c.m), n = static_cast<std::uint64_t>(c.n),
                        k = static_cast<std::uint64_t>(c.k);
    // stored shapes: B_row is (k x n) = col-major (n x k) ld n, or (n x k) = col-major (k x n) ld k
    CUBLAS_CHECK(c.tb ? cublasLtMatrixLayoutCreate(&p.layout_a, cuda_type(c.b), k, n, static_cast<std::int64_t>(k))
                      : cublasLtMatrixLayoutCreate(&p.layout_a, cuda_type(c.b), n, k, static_cast<std::int64_t>(n)));
    CUBLAS_CHECK(c.ta ? cublasLtMatrixLayoutCreate(&p.layout_b, cuda_type(c.a), m, k, static_cast<std::int64_t>(m))
                      : cublasLtMatrixLayoutCreate(&p.layout_b, cuda_type(c.a), k, m, static_cast<std::int64_t>(k)));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p.layout_c, cuda_type(c.d), n, m, static_cast<std::int64_t>(n)));
    set_batch(p.layout_a, c.batch, c.k * c.n);
    set_batch(p.layout_b, c.batch, c.m * c.k);
    set_batch(p.layout_c, c.batch, c.m * c.n);

    cublasLtMatmulPreference_t pref = nullptr;
    CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
    const std::uint64_t workspace = kWorkspaceBytes;
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace,
                                                      sizeof workspace));
    // A'/B' are our B/A
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &c.align_b,
                                                      sizeof c.align_b));
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &c.align_a,
                                                      sizeof c.align_a));
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &c.align_c,
                                                      sizeof c.align_c));
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &c.align_c,
                                                      sizeof c.align_c));
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    const cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(handle, p.desc, p.layout_a, p.layout_b, p.layout_c,
                                                             p.layout_c, pref, 1, &result, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    if (st == CUBLAS_STATUS_SUCCESS && found > 0) {
      p.algo = result.algo;
      p.ok = true;
    } else if (st != CUBLAS_STATUS_SUCCESS && st != CUBLAS_STATUS_NOT_SUPPORTED) {
      CUBLAS_CHECK(st);
    }
    return p;
  }

  // D (+)= op(A) op(B) with one cuBLASLt call; false when cuBLASLt has no algorithm for it.
  bool matmul(const Call& c, const void* a, const void* b, const void* bias, void* d, bool beta_one, void* workspace,
              DeviceStream stream) {
    const Prepared& p = prepare(c);
    if (!p.ok) return false;
    if (c.bias_epilogue)
      CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
    const float alpha = 1.0f, beta = beta_one ? 1.0f : 0.0f;
    CUBLAS_CHECK(cublasLtMatmul(handle, p.desc, &alpha, b, p.layout_a, a, p.layout_b, &beta, d, p.layout_c, d,
                                p.layout_c, &p.algo, workspace, kWorkspaceBytes, stream));
    return true;
  }
};

GemmEngine::GemmEngine() : impl_(std::make_unique<Impl>()) {}
GemmEngine::~GemmEngine() = default;

bool GemmEngine::fp8_supported() const {
  return impl_->fp8;
}

GemmEngine::Stats GemmEngine::stats() const {
  return impl_->stats;
}

std::string GemmEngine::describe() const {
  return "cuBLASLt " + std::to_string(cublasLtGetVersion()) + " on " + impl_->device;
}

namespace {

// How the operands reach cuBLASLt: in their storage, widened to `x` in scratch, or (fp8) transposed.
struct Route {
  bool fp8 = false;
  DType x = DType::fp32;  // operand type cuBLASLt sees (the storage type when not widened)
  DType d = DType::fp32;  // type cuBLASLt writes
  bool widen_a = false, widen_b = false, transpose_a = false, transpose_b = false, stage_d = false;
  bool bias_epilogue = false;
};

// Operands of (a, b) widened to x (or kept), output type for x and c, bias handling.
Route route_for(DType a, DType b, DType c, DType bias, bool has_bias, bool fp8, DType x, bool trans_a, bool trans_b) {
  Route r;
  r.fp8 = fp8;
  r.x = is_f32(x) ? DType::fp32 : x;
  r.d = is_f32(c) ? DType::fp32 : c;
  bool d_ok = false;
  if (fp8)
    d_ok = r.d == DType::bf16 || r.d == DType::fp16 || r.d == DType::fp32;
  else if (r.x == DType::fp32)
    d_ok = r.d == DType::fp32;
  else
    d_ok = r.d == r.x || r.d == DType::fp32;
  r.stage_d = !d_ok;
  if (r.stage_d) r.d = DType::fp32;
  if (!fp8) {
    r.widen_a = r.x == DType::fp32 ? !is_f32(a) : a != r.x;
    r.widen_b = r.x == DType::fp32 ? !is_f32(b) : b != r.x;
  } else {
    r.transpose_a = trans_a;   // cuBLASLt fp8 kernels take A' (our B) transposed and B' (our A) not
    r.transpose_b = !trans_b;
  }
  r.bias_epilogue = has_bias && !r.stage_d && !fp8 && (is_f32(r.d) ? is_f32(bias) : bias == r.d);
  return r;
}

}  // namespace

void GemmEngine::run(const cpu::GemmShape& s, DType math, const GemmOperands& op, DeviceScratch& scratch,
                     DeviceStream stream) {
  Impl& im = *impl_;
  ++im.stats.calls;
  if (s.m <= 0 || s.n <= 0 || s.batch <= 0) return;
  const std::int64_t rows = s.batch * s.m, count_c = rows * s.n;
  const std::int64_t count_a = s.batch * s.m * s.k, count_b = s.batch * s.k * s.n;
  const bool has_bias = op.bias.data != nullptr;
  if (s.k <= 0) {  // no product: C = bias (+ C), or zeros, or unchanged
    if (has_bias)
      bias_fill(op.c, op.bias, rows, s.n, s.accumulate, stream);
    else if (!s.accumulate)
      CUDA_CHECK(cudaMemsetAsync(op.c.data, 0, static_cast<std::size_t>(count_c * dtype_bytes(op.c.dtype)), stream));
    return;
  }

  // Routes to try, best first.
  std::vector<Route> routes;
  const bool any_fp8 = is_fp8(op.a.dtype) || is_fp8(op.b.dtype);
  if (any_fp8) {
    const bool pair_ok = is_fp8(op.a.dtype) && is_fp8(op.b.dtype) &&
                         !(op.a.dtype == DType::fp8_e5m2 && op.b.dtype == DType::fp8_e5m2);
    if (im.fp8 && pair_ok)
      routes.push_back(route_for(op.a.dtype, op.b.dtype, op.c.dtype, op.bias.dtype, has_bias, true, op.a.dtype,
                                 s.trans_a, s.trans_b));
    // widening is exact: every fp8 value is a bf16 value; next to fp16/fp32 operands, widen to fp32
    const bool narrow = (is_fp8(op.a.dtype) || op.a.dtype == DType::bf16) &&
                        (is_fp8(op.b.dtype) || op.b.dtype == DType::bf16);
    routes.push_back(route_for(op.a.dtype, op.b.dtype, op.c.dtype, op.bias.dtype, has_bias, false,
                               narrow ? DType::bf16 : DType::fp32, s.trans_a, s.trans_b));
  } else {
    const bool same = op.a.dtype == op.b.dtype || (is_f32(op.a.dtype) && is_f32(op.b.dtype));
    routes.push_back(route_for(op.a.dtype, op.b.dtype, op.c.dtype, op.bias.dtype, has_bias, false,
                               same ? op.a.dtype : DType::fp32, s.trans_a, s.trans_b));
  }

  for (std::size_t attempt = 0; attempt < routes.size(); ++attempt) {
    const Route& r = routes[attempt];
    const DType ta = r.fp8 ? op.a.dtype : (r.widen_a ? r.x : op.a.dtype);
    const DType tb = r.fp8 ? op.b.dtype : (r.widen_b ? r.x : op.b.dtype);
    Call c;
    c.m = s.m, c.n = s.n, c.k = s.k, c.batch = s.batch;
    c.ta = r.transpose_a ? false : s.trans_a;
    c.tb = r.transpose_b ? true : s.trans_b;
    c.a = is_f32(ta) ? DType::fp32 : ta, c.b = is_f32(tb) ? DType::fp32 : tb, c.d = r.d;
    c.tf32 = math == DType::tf32 || op.a.dtype == DType::tf32 || op.b.dtype == DType::tf32;
    c.bias_epilogue = r.bias_epilogue;
    // staged buffers come from scratch, 256-byte aligned
    c.align_a = r.widen_a || r.transpose_a ? 256 : alignment_of(op.a.data);
    c.align_b = r.widen_b || r.transpose_b ? 256 : alignment_of(op.b.data);
    c.align_c = r.stage_d ? 256 : alignment_of(op.c.data);
    c.align_bias = r.bias_epilogue ? alignment_of(op.bias.data) : 256;
    if (!im.prepare(c).ok) {
      if (attempt + 1 < routes.size()) {
        ++im.stats.fp8_widened;
        continue;
      }
      throw InternalError("internal error: cuBLASLt has no algorithm for a " + std::string(to_string(c.a)) + " x " +
                          std::string(to_string(c.b)) + " -> " + std::string(to_string(c.d)) + " GEMM (m=" +
                          std::to_string(s.m) + ", n=" + std::to_string(s.n) + ", k=" + std::to_string(s.k) +
                          ", batch=" + std::to_string(s.batch) + ")");
    }
    const std::size_t xb = static_cast<std::size_t>(dtype_bytes(r.x));
    std::size_t need = scratch_align(kWorkspaceBytes);
    if (r.widen_a || r.transpose_a) need += scratch_align(static_cast<std::size_t>(count_a) * xb);
    if (r.widen_b || r.transpose_b) need += scratch_align(static_cast<std::size_t>(count_b) * xb);
    if (r.stage_d) need += scratch_align(static_cast<std::size_t>(count_c) * sizeof(float));
    ScratchCarver carve(scratch.get(need));
    void* workspace = carve.take<std::byte>(kWorkspaceBytes);
    const void* a = op.a.data;
    const void* b = op.b.data;
    if (r.widen_a) {
      void* p = carve.take<std::byte>(static_cast<std::size_t>(count_a) * xb);
      convert({p, c.a}, op.a, count_a, stream);
      a = p;
    } else if (r.transpose_a) {  // A stored (k x m) -> (m x k)
      void* p = carve.take<std::byte>(static_cast<std::size_t>(count_a));
      transpose_bytes(p, op.a.data, s.k, s.m, s.batch, stream);
      a = p;
    }
    if (r.widen_b) {
      void* p = carve.take<std::byte>(static_cast<std::size_t>(count_b) * xb);
      convert({p, c.b}, op.b, count_b, stream);
      b = p;
    } else if (r.transpose_b) {  // B stored (k x n) -> (n x k)
      void* p = carve.take<std::byte>(static_cast<std::size_t>(count_b));
      transpose_bytes(p, op.b.data, s.k, s.n, s.batch, stream);
      b = p;
    }
    if (r.widen_a || r.widen_b) ++im.stats.staged;
    DeviceTensor dst = op.c;
    if (r.stage_d) {
      dst = {carve.take<float>(static_cast<std::size_t>(count_c)), DType::fp32};
      ++im.stats.staged;
      if (s.accumulate) convert(dst, op.c, count_c, stream);
    }
    bool beta_one = s.accumulate;
    if (has_bias && !r.bias_epilogue) {
      bias_fill(dst, op.bias, rows, s.n, s.accumulate, stream);
      beta_one = true;
      ++im.stats.bias_prefills;
    }
    im.matmul(c, a, b, r.bias_epilogue ? op.bias.data : nullptr, dst.data, beta_one, workspace, stream);
    if (r.stage_d) convert(op.c, dst, count_c, stream);
    return;
  }
}

}  // namespace clustersim::executor::cuda
