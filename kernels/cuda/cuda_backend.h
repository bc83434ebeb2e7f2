// The CUDA backend: one stream, cuBLASLt for matmul, hand-written kernels for everything else
// (flash-attention style attention on tensor cores). Ops live in one file each (elementwise.cu, ...).
#pragma once
#include "kernels/backend.h"

namespace wm::cuda {

class CudaBackend final : public Backend {
 public:
  Device device() const override { return Device::CUDA; }

  void fill(Tensor x, double value) override;
  void copy(Tensor dst, const Tensor& src) override;
  void convert(Tensor dst, const Tensor& src) override;
  void add(Tensor y, const Tensor& x, float alpha) override;
  void scale(Tensor x, float s) override;
  double sum_squares(const Tensor& x) override;
  bool has_nonfinite(const Tensor& x) override;
  void synchronize() override;

  void embedding_forward(Tensor out, const Tensor& ids, const Tensor& table) override;
  void embedding_backward(Tensor dtable, const Tensor& dout, const Tensor& ids) override;

  void rmsnorm_forward(Tensor y, Tensor rstd, const Tensor& x, const Tensor& w, float eps) override;
  void rmsnorm_backward(Tensor dx, Tensor dw, const Tensor& dy, const Tensor& x, const Tensor& w,
                        const Tensor& rstd, bool accumulate_dx) override;

  void rope_forward(Tensor x, const Tensor& pos, float theta) override;
  void rope_backward(Tensor dx, const Tensor& pos, float theta) override;

  void attention_forward(Tensor out, Tensor lse, const Tensor& q, const Tensor& k, const Tensor& v,
                         const Tensor& doc_start, float scale, const AttnDocs& docs) override;
  void attention_backward(Tensor dq, Tensor dk, Tensor dv, const Tensor& dout, const Tensor& q,
                          const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse,
                          const Tensor& doc_start, float scale, const AttnDocs& docs) override;

  void swiglu_forward(Tensor out, const Tensor& gate_up) override;
  void swiglu_backward(Tensor dgate_up, const Tensor& dout, const Tensor& gate_up) override;

  void matmul(Tensor c, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, float alpha,
              float beta) override;
  void rmsnorm_rope_forward(Tensor y, Tensor rstd, const Tensor& x, const Tensor& w, float eps, const Tensor& pos,
                            float theta) override;
  void rmsnorm_rope_backward(Tensor dx, Tensor dw, Tensor dy, const Tensor& x, const Tensor& w, const Tensor& rstd,
                             const Tensor& pos, float theta) override;
  void matmul_add(Tensor d, const Tensor& a, const Tensor& b, const Tensor& c, bool trans_a,
                  bool trans_b) override;

  void cross_entropy_forward(Tensor losses, Tensor lse, const Tensor& logits, const Tensor& targets,
                             int ignore_index) override;
  void cross_entropy_backward(Tensor dlogits, const Tensor& logits, const Tensor& lse,
                              const Tensor& targets, const Tensor& dloss, int ignore_index) override;

  void adamw_update(Tensor master, const Tensor& grad, Tensor m, Tensor v, const AdamWParams& hp,
                    float grad_scale, Tensor weights) override;

  void scale_entries(Tensor x, const Tensor& rows, const Tensor& dims, float factor) override;
  void mean_abs_rows(Tensor out, const Tensor& x, const Tensor& rows) override;

  void kv_cache_write(Tensor k_cache, Tensor v_cache, const Tensor& k, const Tensor& v, const Tensor& slots,
                      const Tensor& positions) override;
  void attention_decode(Tensor out, const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                        const Tensor& slots, const Tensor& lengths, float scale) override;
  void sample_tokens(Tensor ids, Tensor logprobs, const Tensor& logits, const Tensor& uniforms,
                     float temperature) override;

  bool begin_capture() override;
  int64_t end_capture() override;
  void abort_capture() override;
  void replay_graph(int64_t graph) override;
  void release_graph(int64_t graph) override;
};

}  // namespace wm::cuda
