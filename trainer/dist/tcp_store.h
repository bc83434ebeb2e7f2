// A tiny key-value rendezvous over TCP, as torchrun's TCPStore: rank 0 serves, every rank
// (rank 0 too) is a client. Used to share the NCCL unique id and, by the CPU communicator,
// to exchange tensors. Every wait is bounded: a rank that dies or hangs makes the others
// fail with an error naming the key, the rank and the timeout.
#pragma once
#include <chrono>
#include <memory>
#include <string>

namespace wm::dist {

class TcpStore {
 public:
  // rank 0 listens on `port` (0 = any free port, see port()) and serves until destroyed.
  TcpStore(const std::string& host, int port, int rank, std::chrono::milliseconds timeout);
  ~TcpStore();
  TcpStore(const TcpStore&) = delete;
  TcpStore& operator=(const TcpStore&) = delete;

  void set(const std::string& key, const std::string& value);
  // Blocks until the key exists; throws std::runtime_error after the timeout.
  std::string get(const std::string& key);
  // Atomically adds to an integer counter and returns the new value.
  int64_t add(const std::string& key, int64_t delta);
  void erase(const std::string& key);
  int port() const { return port_; }
  // Rank 0 after a failure: shut the server down without waiting for the other ranks to hang up.
  void stop_waiting_for_peers();
  int rank() const { return rank_; }

 private:
  struct Server;
  std::unique_ptr<Server> server_;
  int fd_ = -1;
  int port_ = 0;
  int rank_ = 0;
  std::chrono::milliseconds timeout_;
  std::string request(char op, const std::string& key, const std::string& value);
};

}  // namespace wm::dist
