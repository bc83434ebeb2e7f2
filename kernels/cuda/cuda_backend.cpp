// CUDA backend singleton, device discovery, raw device memory and the shared CudaContext.
#include "kernels/cuda/cuda_backend.h"

#include <stdexcept>
#include <string>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_context.h"
#include "kernels/device_memory.h"

namespace wm::cuda {

bool device_present() {
  static const bool present = [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      cudaGetLastError();  // clear the sticky "no device / no driver" error
      return false;
    }
    return n > 0;
  }();
  return present;
}

Backend& cuda_backend() {
  static CudaBackend instance;
  return instance;
}

void CudaBackend::synchronize() { CudaContext::get().synchronize_and_check(); }

int64_t memory_in_use() {
  size_t free_b = 0, total_b = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  return static_cast<int64_t>(total_b - free_b);
}

void* device_malloc(size_t nbytes) {
  void* p = nullptr;
  cudaError_t err = cudaMalloc(&p, nbytes);
  if (err != cudaSuccess) {
    cudaGetLastError();
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    throw std::runtime_error("cudaMalloc of " + std::to_string(nbytes) + " bytes failed: " +
                             cudaGetErrorString(err) + " (free " + std::to_string(free_b) + " of " +
                             std::to_string(total_b) + " bytes)");
  }
  return p;
}

void device_free(void* p) noexcept {
  if (p) cudaFree(p);
}

void check_launch(const char* kernel, const char* file, int line) {
  cudaError_t err = cudaGetLastError();
#ifdef WEMASK_CUDA_DEBUG_SYNC
  if (err == cudaSuccess) err = cudaStreamSynchronize(CudaContext::get().stream());
  if (err == cudaSuccess) {
    CudaContext::get().synchronize_and_check();
    return;
  }
#endif
  if (err != cudaSuccess) throw_cuda_error(err, kernel, file, line);
}

// ---- CudaContext

CudaContext& CudaContext::get() {
  static CudaContext ctx;
  return ctx;
}

CudaContext::CudaContext() {
  if (!device_present()) throw std::runtime_error("CUDA backend used but no CUDA GPU is present");
  int dev = 0;
  CUDA_CHECK(cudaGetDevice(&dev));
  CUDA_CHECK(cudaDeviceGetAttribute(&sm_count_, cudaDevAttrMultiProcessorCount, dev));
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  CUBLAS_CHECK(cublasLtCreate(&lt_));
  lt_workspace_size_ = size_t(64) << 20;  // cuBLASLt recommends >= 32 MiB on Hopper
  CUDA_CHECK(cudaMalloc(&lt_workspace_, lt_workspace_size_));
  CUDA_CHECK(cudaMalloc(&error_flag_, sizeof(int)));
  CUDA_CHECK(cudaMemset(error_flag_, 0, sizeof(int)));
}

CudaContext::~CudaContext() {
  // Process teardown: the driver may already be shutting down, so errors are ignored.
  if (stream_) cudaStreamSynchronize(stream_);
  cudaFree(workspace_);
  cudaFree(lt_workspace_);
  cudaFree(error_flag_);
  if (lt_) cublasLtDestroy(lt_);
  if (stream_) cudaStreamDestroy(stream_);
}

void* CudaContext::workspace(size_t nbytes) {
  if (nbytes > workspace_size_) {
    CUDA_CHECK(cudaStreamSynchronize(stream_));  // the old buffer may still be in use
    if (workspace_) CUDA_CHECK(cudaFree(workspace_));
    workspace_ = nullptr;
    workspace_size_ = 0;
    const size_t grown = nbytes + nbytes / 4;
    CUDA_CHECK(cudaMalloc(&workspace_, grown));
    workspace_size_ = grown;
  }
  return workspace_;
}

void CudaContext::synchronize_and_check() {
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  int flag = 0;
  CUDA_CHECK(cudaMemcpy(&flag, error_flag_, sizeof(int), cudaMemcpyDeviceToHost));
  if (flag == kNoError) return;
  CUDA_CHECK(cudaMemset(error_flag_, 0, sizeof(int)));
  switch (flag) {
    case kEmbeddingIdOutOfRange:
      throw std::out_of_range("CUDA embedding: a token id was outside [0, vocab) (rows skipped/zeroed)");
    case kTargetOutOfRange:
      throw std::out_of_range("CUDA cross_entropy: a target was outside [0, vocab) and not ignore_index");
    case kRowIndexOutOfRange:
      throw std::out_of_range("CUDA scale_entries/mean_abs_rows: a row or dim index was out of range");
    case kDocStartInvalid:
      throw std::invalid_argument("CUDA attention: doc_start[t] must lie in [0, t]");
    default:
      throw std::runtime_error("CUDA device error flag " + std::to_string(flag));
  }
}

}  // namespace wm::cuda
