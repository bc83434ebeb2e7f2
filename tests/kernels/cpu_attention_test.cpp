#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "kernels/buffer.h"
#include "kernels/ops.h"
#include "tests/testing/gradcheck.h"

namespace wm {
namespace {

using testing::get;
using testing::random_tensor;

// Two batch rows of 7 tokens flattened into T = 14. Row 0 packs two documents (tokens 0-3 and
// 4-6), row 1 holds one (7-13). Query heads 4, kv heads 2 (GQA), odd head dim.
constexpr int64_t T = 14, Hq = 4, Hkv = 2, D = 5;
constexpr float kScale = 0.41f;  // the op takes a float scale; the reference uses the same value

OwnedTensor doc_starts() {
  OwnedTensor ds({T}, DType::I32);
  const int32_t v[T] = {0, 0, 0, 0, 4, 4, 4, 7, 7, 7, 7, 7, 7, 7};
  std::copy(v, v + T, ds.ptr<int32_t>());
  return ds;
}

DType stat_of(DType dt) { return dt == DType::F64 ? DType::F64 : DType::F32; }

struct Inputs {
  OwnedTensor q, k, v, ds;
  Inputs(DType dt, std::mt19937& rng)
      : q(random_tensor({T, Hq, D}, dt, rng)), k(random_tensor({T, Hkv, D}, dt, rng)),
        v(random_tensor({T, Hkv, D}, dt, rng)), ds(doc_starts()) {}
};

// Materialised softmax over a full masked score row, in double.
void naive_attention(std::vector<double>& out, std::vector<double>& lse, const Inputs& in) {
  out.assign(T * Hq * D, 0.0);
  lse.assign(Hq * T, 0.0);
  const int32_t* ds = in.ds.ptr<int32_t>();
  for (int64_t h = 0; h < Hq; ++h) {
    const int64_t g = h / (Hq / Hkv);
    for (int64_t t = 0; t < T; ++t) {
      std::vector<double> s(T, -std::numeric_limits<double>::infinity());
      double m = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < T; ++j) {
        if (j > t || j < ds[t]) continue;
        double dotp = 0;
        for (int64_t i = 0; i < D; ++i) dotp += get(in.q, (t * Hq + h) * D + i) * get(in.k, (j * Hkv + g) * D + i);
        s[j] = kScale * dotp;
        m = std::max(m, s[j]);
      }
      double z = 0;
      for (int64_t j = 0; j < T; ++j) z += std::exp(s[j] - m);
      lse[h * T + t] = m + std::log(z);
      for (int64_t j = 0; j < T; ++j)
        for (int64_t i = 0; i < D; ++i)
          out[(t * Hq + h) * D + i] += std::exp(s[j] - m) / z * get(in.v, (j * Hkv + g) * D + i);
    }
  }
}

TEST(CpuAttention, ForwardMatchesMaterialisedSoftmax) {
  for (DType dt : {DType::F64, DType::F32}) {
    std::mt19937 rng(41);
    Inputs in(dt, rng);
    OwnedTensor out({T, Hq, D}, dt), lse({Hq, T}, stat_of(dt));
    ops::attention_forward(out, lse, in.q, in.k, in.v, in.ds, kScale);
    std::vector<double> ref_out, ref_lse;
    naive_attention(ref_out, ref_lse, in);
    const double tol = dt == DType::F64 ? 1e-13 : 1e-6;
    EXPECT_LT(testing::max_rel_error(testing::to_vector(out), ref_out), tol) << dtype_name(dt);
    EXPECT_LT(testing::max_rel_error(testing::to_vector(lse), ref_lse), tol) << dtype_name(dt);
  }
}

TEST(CpuAttention, DocumentsDoNotSeeEachOther) {
  std::mt19937 rng(42);
  Inputs in(DType::F32, rng);
  OwnedTensor out0({T, Hq, D}, DType::F32), out1({T, Hq, D}, DType::F32), lse({Hq, T}, DType::F32);
  ops::attention_forward(out0, lse, in.q, in.k, in.v, in.ds, kScale);
  // Change token 2 (document 1 of row 0) in q, k and v.
  for (int64_t i = 0; i < Hkv * D; ++i) {
    testing::set(in.k, 2 * Hkv * D + i, 5.0 + i);
    testing::set(in.v, 2 * Hkv * D + i, -3.0 - i);
  }
  for (int64_t i = 0; i < Hq * D; ++i) testing::set(in.q, 2 * Hq * D + i, 2.0);
  ops::attention_forward(out1, lse, in.q, in.k, in.v, in.ds, kScale);
  const int64_t row = Hq * D;
  for (int64_t i = 2 * row; i < 4 * row; ++i) EXPECT_NE(get(out0, i), get(out1, i)) << "token " << i / row;
  for (int64_t i = 4 * row; i < T * row; ++i)  // document 2 of row 0 and all of batch row 1
    ASSERT_EQ(get(out0, i), get(out1, i)) << "token " << i / row << " saw document 1";
}

TEST(CpuAttention, BackwardMatchesFiniteDifferences) {
  std::mt19937 rng(43);
  Inputs in(DType::F64, rng);
  OwnedTensor out({T, Hq, D}, DType::F64), lse({Hq, T}, DType::F64);
  OwnedTensor r = random_tensor({T, Hq, D}, DType::F64, rng);
  auto loss = [&] {
    ops::attention_forward(out, lse, in.q, in.k, in.v, in.ds, kScale);
    return testing::dot(out, r);
  };
  const std::vector<double> num_dq = testing::numeric_gradient(in.q, loss);
  const std::vector<double> num_dk = testing::numeric_gradient(in.k, loss);
  const std::vector<double> num_dv = testing::numeric_gradient(in.v, loss);
  loss();
  OwnedTensor dq({T, Hq, D}, DType::F64), dk({T, Hkv, D}, DType::F64), dv({T, Hkv, D}, DType::F64);
  for (const Tensor& t : {dq.t(), dk.t(), dv.t()}) ops::fill(t, 77.0);  // must be overwritten
  ops::attention_backward(dq, dk, dv, r, in.q, in.k, in.v, out, lse, in.ds, kScale);
  EXPECT_LT(testing::max_rel_error(testing::to_vector(dq), num_dq), 1e-6);
  EXPECT_LT(testing::max_rel_error(testing::to_vector(dk), num_dk), 1e-6);
  EXPECT_LT(testing::max_rel_error(testing::to_vector(dv), num_dv), 1e-6);
}

TEST(CpuAttention, F32AgreesWithF64) {
  std::mt19937 rng(44);
  Inputs in64(DType::F64, rng);
  Inputs in32(DType::F32, rng);
  ops::convert(in32.q, in64.q);
  ops::convert(in32.k, in64.k);
  ops::convert(in32.v, in64.v);
  OwnedTensor dout64 = random_tensor({T, Hq, D}, DType::F64, rng);
  OwnedTensor dout32 = testing::converted(dout64, DType::F32);
  auto run = [](Inputs& in, const OwnedTensor& dout, DType dt) {
    std::vector<OwnedTensor> r;
    r.emplace_back(std::initializer_list<int64_t>{T, Hq, D}, dt);   // out
    r.emplace_back(std::initializer_list<int64_t>{Hq, T}, stat_of(dt));  // lse
    r.emplace_back(std::initializer_list<int64_t>{T, Hq, D}, dt);   // dq
    r.emplace_back(std::initializer_list<int64_t>{T, Hkv, D}, dt);  // dk
    r.emplace_back(std::initializer_list<int64_t>{T, Hkv, D}, dt);  // dv
    ops::attention_forward(r[0], r[1], in.q, in.k, in.v, in.ds, kScale);
    ops::attention_backward(r[2], r[3], r[4], dout, in.q, in.k, in.v, r[0], r[1], in.ds, kScale);
    return r;
  };
  const auto a = run(in64, dout64, DType::F64);
  const auto b = run(in32, dout32, DType::F32);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_LT(testing::max_rel_error(b[i], a[i]), 2e-6) << "output " << i;
}

TEST(CpuAttention, BadInputsThrow) {
  std::mt19937 rng(45);
  Inputs in(DType::F32, rng);
  OwnedTensor out({T, Hq, D}, DType::F32), lse({Hq, T}, DType::F32);
  ops::attention_forward(out, lse, in.q, in.k, in.v, in.ds, kScale);
  in.ds.ptr<int32_t>()[5] = 6;  // a document cannot start after its token
  EXPECT_THROW(ops::attention_forward(out, lse, in.q, in.k, in.v, in.ds, kScale), std::invalid_argument);
  in.ds.ptr<int32_t>()[5] = -1;
  EXPECT_THROW(ops::attention_forward(out, lse, in.q, in.k, in.v, in.ds, kScale), std::invalid_argument);
  in.ds.ptr<int32_t>()[5] = 4;
  OwnedTensor q3({T, 3, D}, DType::F32), out3({T, 3, D}, DType::F32), lse3({3, T}, DType::F32);
  EXPECT_THROW(ops::attention_forward(out3, lse3, q3, in.k, in.v, in.ds, kScale), std::invalid_argument);
  OwnedTensor lse64({Hq, T}, DType::F64);
  EXPECT_THROW(ops::attention_forward(out, lse64, in.q, in.k, in.v, in.ds, kScale), std::invalid_argument);
  OwnedTensor v_short({T - 1, Hkv, D}, DType::F32);
  EXPECT_THROW(ops::attention_forward(out, lse, in.q, in.k, v_short, in.ds, kScale), std::invalid_argument);
}

}  // namespace
}  // namespace wm
