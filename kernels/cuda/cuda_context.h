// The CUDA backend's process-wide state: one stream on which every op is enqueued, the cuBLASLt
// handle and its workspace, a growable scratch workspace, and a device error flag that kernels
// raise on bad indices (checked at every synchronisation point). CUDA-only header: NCCL /
// data-parallel code enqueues on stream() to stay ordered with the ops.
#pragma once
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstddef>

namespace wm::cuda {

// Error codes written into the device error flag (the first error wins).
enum DeviceError : int {
  kNoError = 0,
  kEmbeddingIdOutOfRange = 1,
  kTargetOutOfRange = 2,
  kRowIndexOutOfRange = 3,
  kDocStartInvalid = 4,
};

class CudaContext {
 public:
  static CudaContext& get();  // created on first use (throws if no GPU)
  CudaContext(const CudaContext&) = delete;
  CudaContext& operator=(const CudaContext&) = delete;
  ~CudaContext();

  cudaStream_t stream() const { return stream_; }
  cublasLtHandle_t lt() const { return lt_; }
  void* lt_workspace() const { return lt_workspace_; }
  size_t lt_workspace_size() const { return lt_workspace_size_; }
  int sm_count() const { return sm_count_; }

  // A scratch buffer of at least `nbytes`, valid until the next call (ops use it within one
  // enqueue sequence on stream(); growing it waits for the device first).
  void* workspace(size_t nbytes);

  int* error_flag() const { return error_flag_; }
  // Waits for the stream, then throws std::out_of_range if a kernel raised the error flag
  // (and clears it).
  void synchronize_and_check();

 private:
  CudaContext();
  cudaStream_t stream_ = nullptr;
  cublasLtHandle_t lt_ = nullptr;
  void* lt_workspace_ = nullptr;
  size_t lt_workspace_size_ = 0;
  void* workspace_ = nullptr;
  size_t workspace_size_ = 0;
  int* error_flag_ = nullptr;
  int sm_count_ = 0;
};

inline cudaStream_t stream() { return CudaContext::get().stream(); }

}  // namespace wm::cuda
