#include "trainer/dist/dist_context.h"

#include <algorithm>
#include <exception>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "kernels/buffer.h"
#include "kernels/ops.h"
#include "trainer/dist/side_stream.h"

namespace wm::dist {

std::unique_ptr<DistContext> DistContext::single_process() {
  std::unique_ptr<DistContext> c(new DistContext());
  c->comm_ = make_single_process_communicator();
  return c;
}

std::unique_ptr<DistContext> DistContext::from_environment(Device device, std::chrono::milliseconds timeout) {
  DistEnv env = DistEnv::from_environment();
  env.timeout = timeout;
  if (env.world_size == 1) {
    auto c = single_process();
    c->device_ = device;
    return c;
  }
  std::unique_ptr<DistContext> c(new DistContext());
  c->env_ = env;
  c->device_ = device;
  if (device == Device::CUDA) select_local_cuda_device(env.local_rank);
  spdlog::info("data parallel: rank {} of {} (local rank {}), store {}:{}, timeout {} s", env.rank, env.world_size,
               env.local_rank, env.master_addr, env.master_port, timeout.count() / 1000.0);
  c->store_ = std::make_unique<TcpStore>(env.master_addr, env.master_port, env.rank, timeout);
  // Check-in through the store first (bounded, naming a missing rank): NCCL's own initialisation
  // would wait for a rank that never comes without a bound.
  c->store_->set(fmt::format("ready/{}", env.rank), "1");
  for (int r = 0; r < env.world_size; ++r) {
    try {
      c->store_->get(fmt::format("ready/{}", r));
    } catch (const std::exception& e) {
      throw std::runtime_error(fmt::format("rank {}: rank {} did not start within {} s ({})", env.rank, r,
                                           timeout.count() / 1000.0, e.what()));
    }
  }
  c->comm_ = device == Device::CUDA ? make_nccl_communicator(*c->store_, env.rank, env.world_size, timeout)
                                    : make_cpu_communicator(*c->store_, env.rank, env.world_size);
  c->comm_->barrier();  // everyone is here
  return c;
}

DistContext::~DistContext() {
  if (store_ && std::uncaught_exceptions() > 0) store_->stop_waiting_for_peers();
}

void DistContext::all_reduce(std::vector<double>& values) {
  if (world() == 1 || values.empty()) return;
  const int64_t n = static_cast<int64_t>(values.size());
  OwnedTensor host({n}, DType::F64);
  for (int64_t i = 0; i < n; ++i) host.ptr<double>()[i] = values[static_cast<size_t>(i)];
  if (device_ == Device::CUDA) {
    // A persistent device buffer: a cudaFree per call would synchronise the whole device.
    if (!device_scratch_ || device_scratch_->t().numel() < n)
      device_scratch_ = std::make_unique<OwnedTensor>(std::vector<int64_t>{std::max<int64_t>(n, 16)}, DType::F64,
                                                      Device::CUDA);
    Tensor dev = device_scratch_->t().slice(0, n);
    ops::copy(dev, host);
    comm_->all_reduce_sum(dev);
    comm_->synchronize();  // bounded
    ops::copy(host, dev);
  } else {
    comm_->all_reduce_sum(host);
  }
  for (int64_t i = 0; i < n; ++i) values[static_cast<size_t>(i)] = host.ptr<double>()[i];
}

void DistContext::barrier() {
  if (world() > 1) comm_->barrier();
}

void DistContext::mark_progress(int64_t steps) {
  if (store_) store_->set(fmt::format("progress/{}", rank()), std::to_string(steps));
}

std::string DistContext::describe_peers(int64_t my_steps) {
  if (!store_) return "";
  std::string behind, all;
  try {
    for (int r = 0; r < world(); ++r) {
      if (r == rank()) continue;
      const int64_t done = store_->add(fmt::format("progress/{}", r), 0);  // reads without waiting
      all += fmt::format("{}rank {}: {} steps", all.empty() ? "" : ", ", r, done);
      if (done < my_steps) behind += fmt::format("{}{}", behind.empty() ? "" : ", ", r);
    }
  } catch (const std::exception&) {
    return "rank 0's store is unreachable: rank 0 exited or died";
  }
  return fmt::format("this rank {} finished {} steps; {}{}", rank(), my_steps, all,
                     behind.empty() ? "" : fmt::format(" (behind: rank {})", behind));
}

}  // namespace wm::dist
