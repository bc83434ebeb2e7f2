#include "kernels/cuda/cudnn_graph.h"

#include <stdexcept>

#include "kernels/cuda/cudnn_check.h"

namespace wm::cuda {

namespace {

// The handle attributes of the operation graph and the execution plan are marked deprecated in
// cuDNN 9.19 (a device-property descriptor may stand in for them) but remain accepted; we set them
// so that the plan is bound to our handle's device, without warnings from the deprecation mark.
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
constexpr cudnnBackendAttributeName_t kGraphHandle = CUDNN_ATTR_OPERATIONGRAPH_HANDLE;
constexpr cudnnBackendAttributeName_t kPlanHandle = CUDNN_ATTR_EXECUTION_PLAN_HANDLE;
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

// The global index of the engine behind an engine config (diagnostics only; -1 when unreadable).
int64_t engine_global_index(const BackendDesc& cfg) {
  BackendDesc engine(CUDNN_BACKEND_ENGINE_DESCRIPTOR);
  cudnnBackendDescriptor_t raw = engine.get();
  int64_t n = 0, index = -1;
  if (cudnnBackendGetAttribute(cfg.get(), CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &n, &raw) !=
          CUDNN_STATUS_SUCCESS ||
      cudnnBackendGetAttribute(raw, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &n, &index) !=
          CUDNN_STATUS_SUCCESS)
    return -1;
  return index;
}

}  // namespace

Dims packed_strides(const Dims& dims) {
  Dims s(dims.size(), 1);
  for (size_t i = dims.size(); i-- > 1;) s[i - 1] = s[i] * dims[i];
  return s;
}

int64_t CudnnGraph::add_tensor(const Dims& dims, const Dims& strides, cudnnDataType_t dt, bool is_virtual,
                               bool by_value, int64_t ragged) {
  if (dims.size() != strides.size()) throw std::runtime_error("CudnnGraph: dims and strides differ in rank");
  const int64_t uid = int64_t(tensors_.size()) + 1;
  BackendDesc t(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
  t.set_dtype(CUDNN_ATTR_TENSOR_DATA_TYPE, dt)
      .set_i64s(CUDNN_ATTR_TENSOR_DIMENSIONS, dims)
      .set_i64s(CUDNN_ATTR_TENSOR_STRIDES, strides)
      .set_i64(CUDNN_ATTR_TENSOR_UNIQUE_ID, uid)
      .set_i64(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, 16);
  if (is_virtual) t.set_bool(CUDNN_ATTR_TENSOR_IS_VIRTUAL, true);
  if (by_value) t.set_bool(CUDNN_ATTR_TENSOR_IS_BY_VALUE, true);
  if (ragged) t.set_desc(CUDNN_ATTR_TENSOR_RAGGED_OFFSET_DESC, desc(ragged));
  t.finalize();
  tensors_.push_back(std::move(t));
  return uid;
}

const BackendDesc& CudnnGraph::desc(int64_t uid) const {
  if (uid < 1 || uid > int64_t(tensors_.size())) throw std::runtime_error("CudnnGraph: unknown tensor uid");
  return tensors_[size_t(uid - 1)];
}

int64_t CudnnGraph::tensor(const Dims& dims, const Dims& strides, cudnnDataType_t dt, int64_t ragged) {
  return add_tensor(dims, strides, dt, false, false, ragged);
}

int64_t CudnnGraph::virt(const Dims& dims, cudnnDataType_t dt, Dims strides, int64_t ragged) {
  if (strides.empty()) strides = packed_strides(dims);
  return add_tensor(dims, strides, dt, true, false, ragged);
}

int64_t CudnnGraph::scalar(float value) {
  const int64_t uid = add_tensor({1, 1, 1, 1}, {1, 1, 1, 1}, CUDNN_DATA_FLOAT, false, true);
  scalars_.emplace_back(uid, value);
  return uid;
}

void CudnnGraph::set_scalar(int64_t uid, float value) {
  for (auto& [u, v] : scalars_)
    if (u == uid) {
      v = value;
      return;
    }
  throw std::runtime_error("CudnnGraph::set_scalar: uid is not a by-value scalar");
}

void CudnnGraph::matmul(int64_t a, int64_t b, int64_t c, MatmulOverrides ov) {
  BackendDesc mm(CUDNN_BACKEND_MATMUL_DESCRIPTOR);
  mm.set_dtype(CUDNN_ATTR_MATMUL_COMP_TYPE, CUDNN_DATA_FLOAT).finalize();
  BackendDesc op(CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR);
  op.set_desc(CUDNN_ATTR_OPERATION_MATMUL_ADESC, desc(a))
      .set_desc(CUDNN_ATTR_OPERATION_MATMUL_BDESC, desc(b))
      .set_desc(CUDNN_ATTR_OPERATION_MATMUL_CDESC, desc(c))
      .set_desc(CUDNN_ATTR_OPERATION_MATMUL_DESC, mm);
  if (ov.m) op.set_desc(CUDNN_ATTR_OPERATION_MATMUL_GEMM_M_OVERRIDE_DESC, desc(ov.m));
  if (ov.n) op.set_desc(CUDNN_ATTR_OPERATION_MATMUL_GEMM_N_OVERRIDE_DESC, desc(ov.n));
  if (ov.k) op.set_desc(CUDNN_ATTR_OPERATION_MATMUL_GEMM_K_OVERRIDE_DESC, desc(ov.k));
  op.finalize();
  op_params_.push_back(std::move(mm));
  ops_.push_back(std::move(op));
}

void CudnnGraph::pointwise(cudnnPointwiseMode_t mode, int64_t y, int64_t x, int64_t b, int64_t t,
                           cudnnDataType_t math_prec, int64_t axis) {
  BackendDesc pw(CUDNN_BACKEND_POINTWISE_DESCRIPTOR);
  pw.set(CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode)
      .set_dtype(CUDNN_ATTR_POINTWISE_MATH_PREC, math_prec);
  if (axis >= 0) pw.set_i64(CUDNN_ATTR_POINTWISE_AXIS, axis);
  pw.finalize();
  BackendDesc op(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR);
  op.set_desc(CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, pw).set_desc(CUDNN_ATTR_OPERATION_POINTWISE_XDESC, desc(x));
  if (b) op.set_desc(CUDNN_ATTR_OPERATION_POINTWISE_BDESC, desc(b));
  if (t) op.set_desc(CUDNN_ATTR_OPERATION_POINTWISE_TDESC, desc(t));
  op.set_desc(CUDNN_ATTR_OPERATION_POINTWISE_YDESC, desc(y)).finalize();
  op_params_.push_back(std::move(pw));
  ops_.push_back(std::move(op));
}

void CudnnGraph::reduction(cudnnReduceTensorOp_t red, int64_t y, int64_t x) {
  BackendDesc rd(CUDNN_BACKEND_REDUCTION_DESCRIPTOR);
  rd.set(CUDNN_ATTR_REDUCTION_OPERATOR, CUDNN_TYPE_REDUCTION_OPERATOR_TYPE, 1, &red)
      .set_dtype(CUDNN_ATTR_REDUCTION_COMP_TYPE, CUDNN_DATA_FLOAT)
      .finalize();
  BackendDesc op(CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR);
  op.set_desc(CUDNN_ATTR_OPERATION_REDUCTION_XDESC, desc(x))
      .set_desc(CUDNN_ATTR_OPERATION_REDUCTION_YDESC, desc(y))
      .set_desc(CUDNN_ATTR_OPERATION_REDUCTION_DESC, rd)
      .finalize();
  op_params_.push_back(std::move(rd));
  ops_.push_back(std::move(op));
}

void CudnnGraph::reshape(int64_t y, int64_t x) {
  BackendDesc op(CUDNN_BACKEND_OPERATION_RESHAPE_DESCRIPTOR);
  op.set_desc(CUDNN_ATTR_OPERATION_RESHAPE_XDESC, desc(x)).set_desc(CUDNN_ATTR_OPERATION_RESHAPE_YDESC, desc(y)).finalize();
  ops_.push_back(std::move(op));
}

CudnnPlan CudnnGraph::build(cudnnHandle_t handle, const std::string& what) const {
  BackendDesc graph(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
  std::vector<cudnnBackendDescriptor_t> raw_ops;
  for (const auto& op : ops_) raw_ops.push_back(op.get());
  graph.set_descs(CUDNN_ATTR_OPERATIONGRAPH_OPS, raw_ops).set(kGraphHandle, CUDNN_TYPE_HANDLE, 1, &handle);
  if (cudnnStatus_t st = graph.try_finalize(); st != CUDNN_STATUS_SUCCESS)
    throw std::runtime_error(what + ": the operation graph of " + std::to_string(raw_ops.size()) +
                             " ops did not finalize: " + cudnn_error_text(st, "cudnnBackendFinalize(OPERATIONGRAPH)"));

  std::string log;
  for (cudnnBackendHeurMode_t mode : {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_FALLBACK}) {
    const std::string mname = mode == CUDNN_HEUR_MODE_A ? "HEUR_MODE_A" : "HEUR_MODE_FALLBACK";
    BackendDesc heur(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
    heur.set_desc(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, graph).set(CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode);
    if (cudnnStatus_t st = heur.try_finalize(); st != CUDNN_STATUS_SUCCESS) {
      log += "\n  " + mname + ": " + cudnn_error_text(st, "cudnnBackendFinalize(ENGINEHEUR)");
      continue;
    }
    int64_t count = 0;
    CUDNN_CHECK(cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0,
                                         &count, nullptr));
    if (count <= 0) {
      log += "\n  " + mname + ": no engine configs";
      continue;
    }
    std::vector<BackendDesc> cfgs;
    std::vector<cudnnBackendDescriptor_t> raw_cfgs;
    for (int64_t i = 0; i < count; ++i) {
      cfgs.emplace_back(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
      raw_cfgs.push_back(cfgs.back().get());
    }
    int64_t got = 0;
    CUDNN_CHECK(cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, count,
                                         &got, raw_cfgs.data()));
    for (int64_t i = 0; i < got; ++i) {
      CudnnPlan p;
      p.plan.set(kPlanHandle, CUDNN_TYPE_HANDLE, 1, &handle);
      p.plan.set_desc(CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, cfgs[size_t(i)]);
      if (cudnnStatus_t st = p.plan.try_finalize(); st != CUDNN_STATUS_SUCCESS) {
        log += "\n  " + mname + " config " + std::to_string(i) + ": " +
               cudnn_error_text(st, "cudnnBackendFinalize(EXECUTION_PLAN)");
        continue;
      }
      int64_t n = 0;
      CUDNN_CHECK(cudnnBackendGetAttribute(p.plan.get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1,
                                           &n, &p.workspace_bytes));
      p.engine_index = int(i);
      p.heur_mode = mname;
      p.engine_global = engine_global_index(cfgs[size_t(i)]);
      return p;
    }
    if (got == 0) log += "\n  " + mname + ": no engine configs returned";
  }
  throw std::runtime_error(what + ": no cuDNN engine supports this graph (cuDNN " + std::to_string(cudnnGetVersion()) +
                           "):" + log + "\n  [CUDNN_LOGERR_DBG=1 CUDNN_LOGWARN_DBG=1 CUDNN_LOGDEST_DBG=stderr shows why]");
}

void CudnnGraph::execute(cudnnHandle_t handle, const CudnnPlan& plan, const std::vector<std::pair<int64_t, void*>>& data,
                         void* workspace) const {
  std::vector<int64_t> uids;
  std::vector<void*> ptrs;
  for (const auto& [uid, p] : data) {
    uids.push_back(uid);
    ptrs.push_back(p);
  }
  for (const auto& s : scalars_) {
    uids.push_back(s.first);
    ptrs.push_back(const_cast<float*>(&s.second));
  }
  BackendDesc pack(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
  pack.set(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, int64_t(uids.size()), uids.data())
      .set(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, int64_t(ptrs.size()), ptrs.data())
      .set(CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace)
      .finalize();
  CUDNN_CHECK(cudnnBackendExecute(handle, plan.plan.get(), pack.get()));
}

}  // namespace wm::cuda
