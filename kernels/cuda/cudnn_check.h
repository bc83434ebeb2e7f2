// Error checks for cuDNN calls: a failing call throws std::runtime_error naming the file, line, the
// failing expression, the status name (cudnnGetErrorString) and cuDNN's last error message
// (cudnnGetLastErrorString). For a full trace of what cuDNN rejected, run with
//   CUDNN_LOGERR_DBG=1 CUDNN_LOGWARN_DBG=1 CUDNN_LOGDEST_DBG=stderr
#pragma once
#include <cudnn_graph.h>

#include <string>

namespace wm::cuda {

// cuDNN's last error message of this thread ("" when it has none).
std::string cudnn_last_error();

// "<expr> failed: CUDNN_STATUS_... (last error: ...)".
std::string cudnn_error_text(cudnnStatus_t st, const char* expr);

[[noreturn]] void throw_cudnn_error(cudnnStatus_t st, const char* expr, const char* file, int line);

}  // namespace wm::cuda

#define CUDNN_CHECK(expr)                                                                       \
  do {                                                                                          \
    cudnnStatus_t wm_cudnn_st_ = (expr);                                                        \
    if (wm_cudnn_st_ != CUDNN_STATUS_SUCCESS)                                                   \
      ::wm::cuda::throw_cudnn_error(wm_cudnn_st_, #expr, __FILE__, __LINE__);                   \
  } while (0)
