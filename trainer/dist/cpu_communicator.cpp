#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "trainer/dist/communicator.h"
#include "trainer/dist/tcp_store.h"

namespace wm::dist {
namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  try {
    return std::stoi(v);
  } catch (const std::exception&) {
    throw std::invalid_argument(std::string("environment variable ") + name + "='" + v + "' is not an integer");
  }
}

class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  void all_reduce_sum(Tensor) override {}
  void reduce_scatter_sum(Tensor out, const Tensor& in) override {
    if (out.data != in.data) std::memcpy(out.data, in.data, out.nbytes());
  }
  void all_gather(Tensor out, const Tensor& in) override {
    if (out.data != in.data) std::memcpy(out.data, in.data, in.nbytes());
  }
  void broadcast(Tensor, int) override {}
  void barrier() override {}
  void synchronize() override {}
};

class CpuCommunicator final : public Communicator {
 public:
  CpuCommunicator(TcpStore& store, int rank, int world) : store_(store), rank_(rank), world_(world) {}
  int rank() const override { return rank_; }
  int world_size() const override { return world_; }

  void all_reduce_sum(Tensor x) override {
    check(x, "all_reduce_sum");
    auto parts = exchange(x.data, x.nbytes());
    if (x.dtype == DType::F32) sum_in_rank_order<float>(x, parts, 0);
    else sum_in_rank_order<double>(x, parts, 0);
  }

  void reduce_scatter_sum(Tensor out, const Tensor& in) override {
    check(in, "reduce_scatter_sum");
    if (in.numel() != out.numel() * world_)
      throw std::invalid_argument("reduce_scatter_sum: input must hold world_size x output elements");
    auto parts = exchange(in.data, in.nbytes());
    if (out.dtype == DType::F32) sum_in_rank_order<float>(out, parts, rank_ * out.numel());
    else sum_in_rank_order<double>(out, parts, rank_ * out.numel());
  }

  void all_gather(Tensor out, const Tensor& in) override {
    check(in, "all_gather");
    if (out.numel() != in.numel() * world_)
      throw std::invalid_argument("all_gather: output must hold world_size x input elements");
    auto parts = exchange(in.data, in.nbytes());
    for (int r = 0; r < world_; ++r)
      std::memcpy(static_cast<char*>(out.data) + r * in.nbytes(), parts[r].data(), in.nbytes());
  }

  void broadcast(Tensor x, int root) override {
    const std::string key = "bc/" + std::to_string(seq_++);
    if (rank_ == root) store_.set(key, std::string(static_cast<const char*>(x.data), x.nbytes()));
    std::string v = get_from(key, root);
    if (v.size() != x.nbytes()) throw std::runtime_error("broadcast: size mismatch between ranks");
    std::memcpy(x.data, v.data(), v.size());
    finish(key);
  }

  void synchronize() override {}  // every collective is complete when it returns

  // Every rank checks in; a missing rank is named in the error.
  void barrier() override { exchange(nullptr, 0); }

 private:
  TcpStore& store_;
  int rank_, world_;
  int64_t seq_ = 0;

  void check(const Tensor& t, const char* op) const {
    if (t.device != Device::CPU || (t.dtype != DType::F32 && t.dtype != DType::F64))
      throw std::invalid_argument(std::string("cpu communicator ") + op + ": needs an F32/F64 CPU tensor, got " +
                                  t.describe());
  }

  // Every rank publishes its bytes and reads everyone's (its own included), in rank order.
  std::vector<std::string> exchange(const void* data, size_t nbytes) {
    const std::string key = "x/" + std::to_string(seq_++);
    store_.set(key + "/" + std::to_string(rank_), nbytes ? std::string(static_cast<const char*>(data), nbytes) : std::string());
    std::vector<std::string> parts(world_);
    for (int r = 0; r < world_; ++r) {
      parts[r] = get_from(key + "/" + std::to_string(r), r);
      if (parts[r].size() != nbytes)
        throw std::runtime_error("cpu communicator: rank " + std::to_string(r) + " sent " +
                                 std::to_string(parts[r].size()) + " bytes, expected " + std::to_string(nbytes));
    }
    finish(key + "/" + std::to_string(rank_));
    return parts;
  }

  // A value published by rank `from`; a timeout or a lost store becomes an error naming that rank.
  std::string get_from(const std::string& key, int from) {
    try {
      return store_.get(key);
    } catch (const std::exception& e) {
      throw std::runtime_error("rank " + std::to_string(rank_) + ": rank " + std::to_string(from) +
                               " did not take part in collective '" + key + "' (it died or hangs): " + e.what());
    }
  }

  // Frees a key once every rank has read it.
  void finish(const std::string& key) {
    const std::string count = key + "/reads";
    if (store_.add(count, 1) == world_) {
      store_.erase(key);
      store_.erase(count);
    }
  }

  template <class T>
  void sum_in_rank_order(Tensor out, const std::vector<std::string>& parts, int64_t offset) {
    T* o = static_cast<T*>(out.data);
    const int64_t n = out.numel();
    std::memcpy(o, parts[0].data() + offset * sizeof(T), n * sizeof(T));
    for (int r = 1; r < world_; ++r) {
      const T* p = reinterpret_cast<const T*>(parts[r].data()) + offset;
      for (int64_t i = 0; i < n; ++i) o[i] += p[i];
    }
  }
};

}  // namespace

DistEnv DistEnv::from_environment() {
  DistEnv e;
  if (std::getenv("RANK")) {
    e.rank = env_int("RANK", 0);
    e.world_size = env_int("WORLD_SIZE", 1);
    e.local_rank = env_int("LOCAL_RANK", e.rank);
  } else if (std::getenv("OMPI_COMM_WORLD_RANK")) {
    e.rank = env_int("OMPI_COMM_WORLD_RANK", 0);
    e.world_size = env_int("OMPI_COMM_WORLD_SIZE", 1);
    e.local_rank = env_int("OMPI_COMM_WORLD_LOCAL_RANK", 0);
  } else if (std::getenv("SLURM_PROCID")) {
    e.rank = env_int("SLURM_PROCID", 0);
    e.world_size = env_int("SLURM_NTASKS", 1);
    e.local_rank = env_int("SLURM_LOCALID", 0);
  }
  if (const char* a = std::getenv("MASTER_ADDR"); a && *a) e.master_addr = a;
  e.master_port = env_int("MASTER_PORT", 29500);
  e.timeout = std::chrono::milliseconds(static_cast<int64_t>(env_int("WEMASK_DIST_TIMEOUT_S", 300)) * 1000);
  if (e.world_size < 1 || e.rank < 0 || e.rank >= e.world_size)
    throw std::invalid_argument("distributed environment: rank " + std::to_string(e.rank) +
                                " is outside world size " + std::to_string(e.world_size));
  return e;
}

std::unique_ptr<Communicator> make_single_process_communicator() {
  return std::make_unique<SingleProcess>();
}

std::unique_ptr<Communicator> make_cpu_communicator(TcpStore& store, int rank, int world_size) {
  return std::make_unique<CpuCommunicator>(store, rank, world_size);
}

}  // namespace wm::dist
