// A small builder for cuDNN backend operation graphs: tensors (device, virtual, or fp32 scalars
// passed by value), matmul / pointwise / reduction / reshape operations, then one finalized
// execution plan (engine heuristics mode A, falling back to FALLBACK mode; each engine config is
// tried until one finalizes) and its execution through a variant pack.
//
// Tensor uids are the builder's own (1, 2, ...); by-value scalars keep their host value inside
// the builder, so the builder must outlive every execution of its plan (the SDPA cache keeps both).
#pragma once
#include <cudnn_graph.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cuda/cudnn_desc.h"

namespace wm::cuda {

using Dims = std::vector<int64_t>;

// Row-major packed strides of dims.
Dims packed_strides(const Dims& dims);

struct CudnnPlan {
  BackendDesc plan{CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR};
  int64_t workspace_bytes = 0;
  int engine_index = -1;         // position of the engine config in the heuristic's list
  int64_t engine_global = -1;    // cuDNN's global engine index (-1 if it could not be read)
  std::string heur_mode;         // "HEUR_MODE_A" or "HEUR_MODE_FALLBACK"
};

// Per-batch GEMM extents of a matmul (uids of INT32 [B,1,1,1] device tensors; 0: the tensor dims),
// as CUDNN_ATTR_OPERATION_MATMUL_GEMM_{M,N,K}_OVERRIDE_DESC: variable sequence lengths.
struct MatmulOverrides {
  int64_t m = 0, n = 0, k = 0;
};

class CudnnGraph {
 public:
  // A device tensor (non-virtual: its pointer goes into the variant pack under the returned uid).
  // ragged: uid of an INT32/INT64 [B+1,1,1,1] device tensor of per-batch element offsets
  // (CUDNN_ATTR_TENSOR_RAGGED_OFFSET_DESC; the batch stride is then replaced by them); 0: none.
  int64_t tensor(const Dims& dims, const Dims& strides, cudnnDataType_t dt, int64_t ragged = 0);
  // A virtual (intermediate) tensor; strides default to packed; ragged as for tensor().
  int64_t virt(const Dims& dims, cudnnDataType_t dt, Dims strides = {}, int64_t ragged = 0);
  // An fp32 scalar [1,1,1,1] passed by value. The value may be replaced per execution through
  // the variant pack (see execute's by_value override); `value` is the default.
  int64_t scalar(float value);

  // c = a @ b over the last two dims (leading dims batched / broadcast), fp32 accumulation.
  void matmul(int64_t a, int64_t b, int64_t c, MatmulOverrides ov = {});
  // y = mode(x [, b [, t]]). math_prec is the compute type (fp32 for arithmetic, INT32 for
  // GEN_INDEX, BOOLEAN for comparisons, following cudnn-frontend); axis only for GEN_INDEX.
  void pointwise(cudnnPointwiseMode_t mode, int64_t y, int64_t x, int64_t b = 0, int64_t t = 0,
                 cudnnDataType_t math_prec = CUDNN_DATA_FLOAT, int64_t axis = -1);
  // y = reduce(x) over the dims where y is smaller than x.
  void reduction(cudnnReduceTensorOp_t op, int64_t y, int64_t x);
  // y = x viewed with y's dims/strides (a transpose when only the strides are swapped).
  void reshape(int64_t y, int64_t x);

  // Finalizes the operation graph and the first engine config that yields an execution plan.
  // Throws std::runtime_error describing every rejected attempt when none does.
  CudnnPlan build(cudnnHandle_t handle, const std::string& what) const;

  // Runs the plan: `data` maps device-tensor uids to pointers; by-value scalars are added from
  // the builder (their current values, see set_scalar).
  void execute(cudnnHandle_t handle, const CudnnPlan& plan, const std::vector<std::pair<int64_t, void*>>& data,
               void* workspace) const;

  void set_scalar(int64_t uid, float value);
  size_t num_ops() const { return ops_.size(); }

 private:
  int64_t add_tensor(const Dims& dims, const Dims& strides, cudnnDataType_t dt, bool is_virtual, bool by_value,
                     int64_t ragged = 0);
  const BackendDesc& desc(int64_t uid) const;

  std::vector<BackendDesc> tensors_;  // index uid - 1
  std::vector<BackendDesc> ops_;
  std::vector<BackendDesc> op_params_;  // matmul / pointwise / reduction descriptors the ops point to
  std::deque<std::pair<int64_t, float>> scalars_;  // uid, value (stable addresses)
};

}  // namespace wm::cuda
