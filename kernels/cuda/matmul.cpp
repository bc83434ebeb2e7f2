// matmul through cuBLASLt. Row-major C[M,N] = op(A) op(B) is computed as the column-major
// product C^T[N,M] = op(B)^T op(A)^T: a row-major matrix is its transpose in column-major, so
// B goes first and each operand keeps its own trans flag. fp32 compute; A/B bf16 (or f32),
// C bf16 or f32. Algorithms are chosen by the heuristic once per shape/alignment and cached.
#include <cublasLt.h>

#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_context.h"

namespace wm::cuda {
namespace {

[[noreturn]] void fail(const std::string& what) { throw std::invalid_argument("matmul (CUDA): " + what); }

cudaDataType_t cuda_type(DType dt) {
  switch (dt) {
    case DType::F32: return CUDA_R_32F;
    case DType::BF16: return CUDA_R_16BF;
    case DType::F16: return CUDA_R_16F;
    default: fail(std::string("unsupported dtype ") + dtype_name(dt));
  }
}

// Largest power-of-two alignment of p, capped at 256 (what the heuristic assumes by default).
uint32_t alignment_of(const void* p) {
  const uintptr_t v = reinterpret_cast<uintptr_t>(p);
  uint32_t a = 256;
  while (a > 1 && (v % a) != 0) a >>= 1;
  return a;
}

struct Key {
  int64_t m, n, k;
  bool ta, tb;
  DType ab, c;
  uint32_t align_a, align_b, align_c;
  bool has_beta;
  auto tie() const { return std::tie(m, n, k, ta, tb, ab, c, align_a, align_b, align_c, has_beta); }
  bool operator<(const Key& o) const { return tie() < o.tie(); }
};

// RAII wrappers of the descriptor handles.
struct MatmulDesc {
  cublasLtMatmulDesc_t h = nullptr;
  ~MatmulDesc() { if (h) cublasLtMatmulDescDestroy(h); }
};
struct Layout {
  cublasLtMatrixLayout_t h = nullptr;
  ~Layout() { if (h) cublasLtMatrixLayoutDestroy(h); }
};
struct Preference {
  cublasLtMatmulPreference_t h = nullptr;
  ~Preference() { if (h) cublasLtMatmulPreferenceDestroy(h); }
};

struct Plan {
  MatmulDesc desc;
  Layout first, second, out;  // first = B (column-major view), second = A, out = C
  cublasLtMatmulAlgo_t algo{};
};

std::map<Key, std::unique_ptr<Plan>>& plan_cache() {
  static std::map<Key, std::unique_ptr<Plan>> cache;
  return cache;
}

Plan& get_plan(const Key& key, int64_t a_rows, int64_t a_cols, int64_t b_rows, int64_t b_cols) {
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  auto& cache = plan_cache();
  if (auto it = cache.find(key); it != cache.end()) return *it->second;
  auto& ctx = CudaContext::get();
  auto plan = std::make_unique<Plan>();
  const cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
  CUBLAS_CHECK(cublasLtMatmulDescCreate(&plan->desc.h, compute, CUDA_R_32F));
  const cublasOperation_t op_first = key.tb ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_second = key.ta ? CUBLAS_OP_T : CUBLAS_OP_N;
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan->desc.h, CUBLASLT_MATMUL_DESC_TRANSA, &op_first, sizeof(op_first)));
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan->desc.h, CUBLASLT_MATMUL_DESC_TRANSB, &op_second, sizeof(op_second)));
  // A row-major [r, c] matrix is a column-major [c, r] matrix with leading dimension c.
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan->first.h, cuda_type(key.ab), b_cols, b_rows, b_cols));
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan->second.h, cuda_type(key.ab), a_cols, a_rows, a_cols));
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan->out.h, cuda_type(key.c), key.n, key.m, key.n));

  Preference pref;
  CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref.h));
  size_t ws = ctx.lt_workspace_size();
  CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref.h, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws)));
  // The cuBLASLt "A" is our B and its "B" is our A.
  CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref.h, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &key.align_b, sizeof(uint32_t)));
  CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref.h, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &key.align_a, sizeof(uint32_t)));
  CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref.h, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &key.align_c, sizeof(uint32_t)));
  CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref.h, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &key.align_c, sizeof(uint32_t)));

  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(ctx.lt(), plan->desc.h, plan->first.h, plan->second.h, plan->out.h,
                                              plan->out.h, pref.h, 1, &result, &found));
  if (found == 0)
    fail("cuBLASLt found no algorithm for M=" + std::to_string(key.m) + " N=" + std::to_string(key.n) +
         " K=" + std::to_string(key.k) + " (" + dtype_name(key.ab) + " -> " + dtype_name(key.c) + ")");
  plan->algo = result.algo;
  return *cache.emplace(key, std::move(plan)).first->second;
}

// D = alpha op(A) op(B) + beta C; c_in: C when it is not D (same shape and dtype), else nullptr.
void run_matmul(CudaBackend& self, const char* op_name, Tensor c, const Tensor& a, const Tensor& b, bool trans_a,
                bool trans_b, float alpha, float beta, const Tensor* c_in) {
  for (auto [name, t] : {std::pair{"a", &a}, std::pair{"b", &b}, std::pair{"c", static_cast<const Tensor*>(&c)}}) {
    if (t->device != Device::CUDA) fail(std::string(name) + " must be a CUDA tensor, got " + t->describe());
    if (!t->defined()) fail(std::string(name) + " has no data (" + t->describe() + ")");
    if (t->ndim != 2) fail(std::string(name) + " must be 2-D, got " + t->describe());
  }
  if (a.dtype != b.dtype) fail("a " + a.describe() + " and b " + b.describe() + " differ in dtype");
  if (a.dtype != DType::BF16 && a.dtype != DType::F32) fail("a/b must be bf16 or f32, got " + a.describe());
  if (c.dtype != a.dtype && c.dtype != DType::F32)
    fail("c must be " + std::string(dtype_name(a.dtype)) + " or f32, got " + c.describe());
  const int64_t m = trans_a ? a.shape[1] : a.shape[0];
  const int64_t k = trans_a ? a.shape[0] : a.shape[1];
  const int64_t kb = trans_b ? b.shape[1] : b.shape[0];
  const int64_t n = trans_b ? b.shape[0] : b.shape[1];
  if (k != kb || c.shape[0] != m || c.shape[1] != n)
    fail("shapes do not match: op(a) " + std::to_string(m) + "x" + std::to_string(k) + ", op(b) " +
         std::to_string(kb) + "x" + std::to_string(n) + ", c " + c.describe());
  if (m == 0 || n == 0) return;
  auto& ctx = CudaContext::get();
  if (k == 0) {  // D = beta * C
    if (c_in && c_in->data != c.data) self.copy(c, *c_in);
    if (beta == 0.0f) self.fill(c, 0.0);
    else if (beta != 1.0f) self.scale(c, beta);
    return;
  }
  const void* c_src = c_in ? c_in->data : c.data;
  const Key key{m, n, k, trans_a, trans_b, a.dtype, c.dtype,
                alignment_of(a.data), alignment_of(b.data), std::min(alignment_of(c.data), alignment_of(c_src)),
                beta != 0.0f};
  Plan& plan = get_plan(key, a.shape[0], a.shape[1], b.shape[0], b.shape[1]);
  CUBLAS_CHECK(cublasLtMatmul(ctx.lt(), plan.desc.h, &alpha, b.data, plan.first.h, a.data, plan.second.h, &beta,
                              c_src, plan.out.h, c.data, plan.out.h, &plan.algo, ctx.lt_workspace(),
                              ctx.lt_workspace_size(), ctx.stream()));
#ifdef WEMASK_CUDA_DEBUG_SYNC
  CUDA_CHECK_LAUNCH(op_name);
#else
  (void)op_name;
#endif
}

}  // namespace

void CudaBackend::matmul(Tensor c, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, float alpha,
                         float beta) {
  run_matmul(*this, "matmul", c, a, b, trans_a, trans_b, alpha, beta, nullptr);
}

void CudaBackend::matmul_add(Tensor d, const Tensor& a, const Tensor& b, const Tensor& c, bool trans_a,
                             bool trans_b) {
  if (c.device != Device::CUDA || c.dtype != d.dtype || c.ndim != 2 || c.shape[0] != d.shape[0] ||
      c.shape[1] != d.shape[1])
    fail("matmul_add: c " + c.describe() + " must match d " + d.describe());
  run_matmul(*this, "matmul_add", d, a, b, trans_a, trans_b, 1.0f, 1.0f, &c);
}

}  // namespace wm::cuda
