// Embedding lookup and its (accumulating) backward.
#include <algorithm>
#include <string>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_common.h"

namespace wm::cpu {
namespace {

void check_ids(const char* op, const Tensor& ids, int64_t vocab) {
  const int32_t* p = ids.ptr<const int32_t>();
  for (int64_t t = 0; t < ids.numel(); ++t)
    if (p[t] < 0 || p[t] >= vocab)
      throw std::out_of_range(std::string(op) + ": token id " + std::to_string(p[t]) + " at row " +
                              std::to_string(t) + " is outside the vocabulary of size " +
                              std::to_string(vocab));
}

}  // namespace

void CpuBackend::embedding_forward(Tensor out, const Tensor& ids, const Tensor& table) {
  const char* op = "embedding_forward";
  check_float(op, "table", table);
  check_rank(op, "table", table, 2);
  check_float(op, "out", out);
  check_dtype(op, "ids", ids, DType::I32);
  check_rank(op, "ids", ids, 1);
  const int64_t T = ids.size(0), V = table.size(0), d = table.size(1);
  check_shape(op, "out", out, {T, d});
  check_ids(op, ids, V);
  const int32_t* id = ids.ptr<const int32_t>();
  dispatch_float(op, table, true, [&]<class S>() {
    dispatch_float(op, out, true, [&]<class D>() {
      const S* tab = static_cast<const S*>(table.data);
      D* o = static_cast<D*>(out.data);
#pragma omp parallel for if (T * d > (1 << 16))
      for (int64_t t = 0; t < T; ++t) {
        const S* row = tab + static_cast<int64_t>(id[t]) * d;
        for (int64_t j = 0; j < d; ++j) o[t * d + j] = from_compute<D>(to_compute(row[j]));
      }
    });
  });
}

void CpuBackend::embedding_backward(Tensor dtable, const Tensor& dout, const Tensor& ids) {
  const char* op = "embedding_backward";
  check_float(op, "dtable", dtable);
  check_rank(op, "dtable", dtable, 2);
  check_float(op, "dout", dout);
  check_dtype(op, "ids", ids, DType::I32);
  check_rank(op, "ids", ids, 1);
  const int64_t T = ids.size(0), V = dtable.size(0), d = dtable.size(1);
  check_shape(op, "dout", dout, {T, d});
  check_ids(op, ids, V);
  const int32_t* id = ids.ptr<const int32_t>();
  dispatch_float(op, dout, true, [&]<class S>() {
    dispatch_float(op, dtable, true, [&]<class D>() {
      const S* g = static_cast<const S*>(dout.data);
      D* tab = static_cast<D*>(dtable.data);
      // Rows may repeat ids, so parallelise over columns: each thread owns a column range.
#pragma omp parallel for if (T * d > (1 << 16))
      for (int64_t j0 = 0; j0 < d; j0 += 64) {
        const int64_t j1 = std::min(d, j0 + 64);
        for (int64_t t = 0; t < T; ++t) {
          D* row = tab + static_cast<int64_t>(id[t]) * d;
          for (int64_t j = j0; j < j1; ++j)
            row[j] = from_compute<D>(to_compute(row[j]) + to_compute(g[t * d + j]));
        }
      }
    });
  });
}

}  // namespace wm::cpu
