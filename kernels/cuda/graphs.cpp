// CUDA graphs for the backend's stream: capture (relaxed mode), instantiate, replay, release.
#include <map>
#include <mutex>

#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_context.h"

namespace wm::cuda {
namespace {

struct Graphs {
  std::mutex mutex;
  std::map<int64_t, cudaGraphExec_t> execs;
  int64_t next_id = 1;
};

Graphs& graphs() {
  static Graphs g;
  return g;
}

}  // namespace

bool CudaBackend::begin_capture() {
  CUDA_CHECK(cudaStreamBeginCapture(stream(), cudaStreamCaptureModeRelaxed));
  return true;
}

int64_t CudaBackend::end_capture() {
  cudaGraph_t graph = nullptr;
  CUDA_CHECK(cudaStreamEndCapture(stream(), &graph));
  cudaGraphExec_t exec = nullptr;
  const cudaError_t err = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  CUDA_CHECK(err);
  Graphs& g = graphs();
  std::lock_guard lock(g.mutex);
  g.execs[g.next_id] = exec;
  return g.next_id++;
}

void CudaBackend::abort_capture() {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(stream(), &status) != cudaSuccess || status == cudaStreamCaptureStatusNone) {
    cudaGetLastError();
    return;
  }
  cudaGraph_t graph = nullptr;
  if (cudaStreamEndCapture(stream(), &graph) == cudaSuccess && graph) cudaGraphDestroy(graph);
  cudaGetLastError();  // an invalidated capture leaves a sticky-free error behind
}

void CudaBackend::replay_graph(int64_t id) {
  cudaGraphExec_t exec = nullptr;
  {
    Graphs& g = graphs();
    std::lock_guard lock(g.mutex);
    const auto it = g.execs.find(id);
    if (it == g.execs.end()) throw std::invalid_argument("replay_graph (CUDA): no graph " + std::to_string(id));
    exec = it->second;
  }
  CUDA_CHECK(cudaGraphLaunch(exec, stream()));
}

void CudaBackend::release_graph(int64_t id) {
  Graphs& g = graphs();
  std::lock_guard lock(g.mutex);
  const auto it = g.execs.find(id);
  if (it == g.execs.end()) return;
  cudaGraphExecDestroy(it->second);
  g.execs.erase(it);
}

}  // namespace wm::cuda
