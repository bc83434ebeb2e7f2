// Error checks for CUDA runtime and cuBLAS calls: any failure throws std::runtime_error naming the
// file, line, failing expression and the library's error string.
#pragma once
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace wm::cuda {

[[noreturn]] inline void throw_cuda_error(cudaError_t err, const char* expr, const char* file, int line) {
  throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": " + expr + " failed: " +
                           cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")");
}

[[noreturn]] inline void throw_cublas_error(cublasStatus_t st, const char* expr, const char* file, int line) {
  throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": " + expr + " failed: " +
                           cublasGetStatusName(st) + " (" + cublasGetStatusString(st) + ")");
}

// After a kernel launch: launch-configuration errors always; with WEMASK_CUDA_DEBUG_SYNC also
// waits for the kernel so that faults are reported at the launching line.
void check_launch(const char* kernel, const char* file, int line);

}  // namespace wm::cuda

#define CUDA_CHECK(expr)                                                              \
  do {                                                                                \
    cudaError_t wm_err_ = (expr);                                                     \
    if (wm_err_ != cudaSuccess) ::wm::cuda::throw_cuda_error(wm_err_, #expr, __FILE__, __LINE__); \
  } while (0)

#define CUBLAS_CHECK(expr)                                                            \
  do {                                                                                \
    cublasStatus_t wm_st_ = (expr);                                                   \
    if (wm_st_ != CUBLAS_STATUS_SUCCESS)                                              \
      ::wm::cuda::throw_cublas_error(wm_st_, #expr, __FILE__, __LINE__);             \
  } while (0)

// Use right after `kernel<<<...>>>(...)`.
#define CUDA_CHECK_LAUNCH(name) ::wm::cuda::check_launch(name, __FILE__, __LINE__)
