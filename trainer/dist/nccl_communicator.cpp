#include <cstring>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "trainer/dist/communicator.h"
#include "trainer/dist/tcp_store.h"

#if defined(WEMASK_HAVE_CUDA) && defined(WEMASK_HAVE_NCCL)
#include <cuda_runtime.h>
#include <nccl.h>

#include "kernels/backend.h"
#include "kernels/buffer.h"
#include "kernels/cuda/cuda_context.h"

namespace wm::dist {
namespace {

#define WM_NCCL_CHECK(expr)                                                                     \
  do {                                                                                          \
    ncclResult_t r_ = (expr);                                                                   \
    if (r_ != ncclSuccess && r_ != ncclInProgress)                                              \
      throw std::runtime_error(std::string("NCCL error in ") + #expr + ": " + ncclGetErrorString(r_)); \
  } while (0)

ncclDataType_t nccl_type(const Tensor& t) {
  switch (t.dtype) {
    case DType::F32: return ncclFloat32;
    case DType::BF16: return ncclBfloat16;
    case DType::F16: return ncclFloat16;
    case DType::F64: return ncclFloat64;
    case DType::I32: return ncclInt32;
    case DType::I64: return ncclInt64;
  }
  throw std::invalid_argument("nccl: unsupported dtype");
}

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(TcpStore& store, int rank, int world, std::chrono::milliseconds timeout)
      : rank_(rank), world_(world), timeout_(timeout) {
    ncclUniqueId id;
    if (rank == 0) {
      WM_NCCL_CHECK(ncclGetUniqueId(&id));
      store.set("nccl/unique_id", std::string(reinterpret_cast<const char*>(&id), sizeof id));
    }
    std::string s = store.get("nccl/unique_id");
    if (s.size() != sizeof id) throw std::runtime_error("nccl: malformed unique id from rank 0");
    std::memcpy(&id, s.data(), sizeof id);
    WM_NCCL_CHECK(ncclCommInitRank(&comm_, world, id, rank));
  }
  ~NcclCommunicator() override {
    if (!comm_) return;
    // Unwinding after a failure: a peer may be gone, and destroy would wait for it forever.
    if (std::uncaught_exceptions() > 0) ncclCommAbort(comm_);
    else ncclCommDestroy(comm_);
  }

  int rank() const override { return rank_; }
  int world_size() const override { return world_; }

  void all_reduce_sum(Tensor x) override {
    check(x);
    WM_NCCL_CHECK(ncclAllReduce(x.data, x.data, x.numel(), nccl_type(x), ncclSum, comm_, stream()));
  }
  void reduce_scatter_sum(Tensor out, const Tensor& in) override {
    check(in);
    WM_NCCL_CHECK(ncclReduceScatter(in.data, out.data, out.numel(), nccl_type(in), ncclSum, comm_, stream()));
  }
  void all_gather(Tensor out, const Tensor& in) override {
    check(in);
    WM_NCCL_CHECK(ncclAllGather(in.data, out.data, in.numel(), nccl_type(in), comm_, stream()));
  }
  void broadcast(Tensor x, int root) override {
    check(x);
    WM_NCCL_CHECK(ncclBroadcast(x.data, x.data, x.numel(), nccl_type(x), root, comm_, stream()));
  }
  void set_stream(void* s) override { stream_ = static_cast<cudaStream_t>(s); }

  void barrier() override {
    // An all-reduce of one int, waited for with the health check.
    if (!flag_) flag_ = std::make_unique<Buffer>(sizeof(int), Device::CUDA);
    WM_NCCL_CHECK(ncclAllReduce(flag_->data(), flag_->data(), 1, ncclInt32, ncclSum, comm_, cuda::stream()));
    synchronize();
  }

  // Waits for the stream while watching NCCL's async error; aborts after the timeout so that a
  // dead or hung peer cannot block this rank forever.
  void synchronize() override {
    if (!comm_) throw std::runtime_error("nccl communicator: aborted after an earlier failure");
    auto deadline = std::chrono::steady_clock::now() + timeout_;
    while (true) {
      cudaError_t q = cudaStreamQuery(cuda::stream());
      if (q == cudaSuccess && stream_) q = cudaStreamQuery(stream_);  // the side stream too
      if (q == cudaSuccess) return;
      if (q != cudaErrorNotReady)
        throw std::runtime_error(std::string("rank ") + std::to_string(rank_) + ": CUDA error " + cudaGetErrorString(q));
      ncclResult_t async = ncclSuccess;
      ncclCommGetAsyncError(comm_, &async);
      if (async != ncclSuccess && async != ncclInProgress) {
        ncclCommAbort(comm_);
        comm_ = nullptr;
        throw std::runtime_error("rank " + std::to_string(rank_) + ": NCCL failed: " + ncclGetErrorString(async));
      }
      if (std::chrono::steady_clock::now() > deadline) {
        ncclCommAbort(comm_);
        comm_ = nullptr;
        throw std::runtime_error("rank " + std::to_string(rank_) + ": a collective did not finish within " +
                                 std::to_string(timeout_.count()) + " ms (a peer rank died or hangs)");
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }

 private:
  int rank_, world_;
  std::chrono::milliseconds timeout_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;  // nullptr: the backend stream
  std::unique_ptr<Buffer> flag_;

  cudaStream_t stream() const { return stream_ ? stream_ : cuda::stream(); }

  void check(const Tensor& t) const {
    if (t.device != Device::CUDA) throw std::invalid_argument("nccl communicator: needs a CUDA tensor, got " + t.describe());
    if (!comm_) throw std::runtime_error("nccl communicator: aborted after an earlier failure");
  }
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(TcpStore& store, int rank, int world_size,
                                                     std::chrono::milliseconds timeout) {
  return std::make_unique<NcclCommunicator>(store, rank, world_size, timeout);
}

}  // namespace wm::dist

#else

namespace wm::dist {
std::unique_ptr<Communicator> make_nccl_communicator(TcpStore&, int, int, std::chrono::milliseconds) {
  throw std::runtime_error("NCCL data parallelism needs a build with CUDA and NCCL");
}
}  // namespace wm::dist

#endif
