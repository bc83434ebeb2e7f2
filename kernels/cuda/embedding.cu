// Embedding lookup and its accumulating backward. Ids live on the device, so a bad id cannot be
// checked before launch: kernels raise the context's error flag (rows are zeroed / skipped) and
// the next synchronize() (or sum_squares / has_nonfinite) throws std::out_of_range. The data
// loader validates ids against the vocabulary, so this is a last line of defence.
// Backward is deterministic: ids are sorted (CUB radix sort, stable), and each run of equal ids
// is summed in fp32 by one block and added once into dtable (F32 or BF16).
#include <cub/device/device_radix_sort.cuh>

#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_common.cuh"

namespace wm::cuda {
namespace {

constexpr int kBlock = 256;

// One block per token row.
template <class S, class D>
__global__ void embedding_forward_kernel(D* out, const int* ids, const S* table, int64_t V, int64_t d, bool vec,
                                         int* error_flag) {
  const int64_t t = blockIdx.x;
  const int id = ids[t];
  D* o = out + t * d;
  const bool bad = id < 0 || id >= V;
  if (bad && threadIdx.x == 0) raise_error(error_flag, kEmbeddingIdOutOfRange);
  const S* row = table + (bad ? 0 : int64_t(id) * d);
  if (vec) {
    for (int64_t c = threadIdx.x * 8; c < d; c += blockDim.x * 8) {
      float v[8];
      if (bad) { for (float& x : v) x = 0.0f; } else load8(row + c, v);
      store8(o + c, v);
    }
  } else {
    for (int64_t c = threadIdx.x; c < d; c += blockDim.x) o[c] = from_f<D>(bad ? 0.0f : to_f(row[c]));
  }
}

__global__ void iota_kernel(int* p, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) p[i] = i;
}

// One block per position of the sorted ids; the first position of each run of equal ids sums
// the run's dout rows in fp32 and adds the sum into dtable.
template <class S, class D>
__global__ void embedding_backward_kernel(D* dtable, const S* dout, const int* sorted_ids, const int* rows, int T,
                                          int64_t V, int64_t d, int* error_flag) {
  const int i = blockIdx.x;
  const int id = sorted_ids[i];
  if (i > 0 && sorted_ids[i - 1] == id) return;  // not the head of its run
  if (id < 0 || id >= V) {
    if (threadIdx.x == 0) raise_error(error_flag, kEmbeddingIdOutOfRange);
    return;
  }
  int end = i + 1;
  while (end < T && sorted_ids[end] == id) ++end;
  D* trow = dtable + int64_t(id) * d;
  for (int64_t c = threadIdx.x; c < d; c += blockDim.x) {
    float acc = 0.0f;
    for (int j = i; j < end; ++j) acc += to_f(dout[int64_t(rows[j]) * d + c]);
    trow[c] = from_f<D>(to_f(trow[c]) + acc);
  }
}

}  // namespace

void CudaBackend::embedding_forward(Tensor out, const Tensor& ids, const Tensor& table) {
  const char* op = "embedding_forward";
  check_float(op, "table", table);
  check_rank(op, "table", table, 2);
  check_float(op, "out", out);
  check_dtype(op, "ids", ids, DType::I32);
  check_rank(op, "ids", ids, 1);
  const int64_t T = ids.size(0), V = table.size(0), d = table.size(1);
  check_shape(op, "out", out, {T, d});
  if (T == 0 || d == 0) return;
  auto& ctx = CudaContext::get();
  const bool vec = d % 8 == 0 && aligned16(out.data) && aligned16(table.data);
  dispatch_float(op, table, [&]<class S>() {
    dispatch_float(op, out, [&]<class D>() {
      embedding_forward_kernel<<<unsigned(T), 128, 0, ctx.stream()>>>(
          static_cast<D*>(out.data), ids.ptr<const int32_t>(), static_cast<const S*>(table.data), V, d, vec,
          ctx.error_flag());
    });
  });
  CUDA_CHECK_LAUNCH("embedding_forward_kernel");
}

void CudaBackend::embedding_backward(Tensor dtable, const Tensor& dout, const Tensor& ids) {
  const char* op = "embedding_backward";
  check_float(op, "dtable", dtable);
  check_rank(op, "dtable", dtable, 2);
  check_float(op, "dout", dout);
  check_dtype(op, "ids", ids, DType::I32);
  check_rank(op, "ids", ids, 1);
  const int64_t T = ids.size(0), V = dtable.size(0), d = dtable.size(1);
  check_shape(op, "dout", dout, {T, d});
  if (T == 0 || d == 0) return;
  if (T > INT32_MAX / 2) fail(op, "too many rows: " + ids.describe());
  auto& ctx = CudaContext::get();
  const int n = static_cast<int>(T);
  // workspace: sorted ids | rows in | rows out | CUB temp storage
  size_t temp_bytes = 0;
  CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, static_cast<const int*>(nullptr),
                                             static_cast<int*>(nullptr), static_cast<const int*>(nullptr),
                                             static_cast<int*>(nullptr), n, 0, 32, ctx.stream()));
  const size_t ints = (size_t(n) * 3 + 63) / 64 * 64;
  char* ws = static_cast<char*>(ctx.workspace(ints * sizeof(int) + temp_bytes));
  int* sorted_ids = reinterpret_cast<int*>(ws);
  int* rows_in = sorted_ids + n;
  int* rows_out = rows_in + n;
  void* temp = ws + ints * sizeof(int);
  iota_kernel<<<grid_for(n, kBlock), kBlock, 0, ctx.stream()>>>(rows_in, n);
  CUDA_CHECK_LAUNCH("iota_kernel");
  CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp, temp_bytes, ids.ptr<const int32_t>(), sorted_ids, rows_in,
                                             rows_out, n, 0, 32, ctx.stream()));
  dispatch_float(op, dout, [&]<class S>() {
    dispatch_float(op, dtable, [&]<class D>() {
      embedding_backward_kernel<<<unsigned(n), kBlock, 0, ctx.stream()>>>(
          static_cast<D*>(dtable.data), static_cast<const S*>(dout.data), sorted_ids, rows_out, n, V, d,
          ctx.error_flag());
    });
  });
  CUDA_CHECK_LAUNCH("embedding_backward_kernel");
}

}  // namespace wm::cuda
