#include "trainer/dist/tcp_store.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace wm::dist {
namespace {

// Wire format: op (1 byte), key length (u32), key, value length (u64), value.
// Reply: status (1 byte: 0 ok, 1 timeout), value length (u64), value.
void write_all(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) throw std::runtime_error(std::string("tcp store: send failed: ") + std::strerror(errno));
    p += w;
    n -= static_cast<size_t>(w);
  }
}

// Returns false on orderly close before any byte; throws on timeout or error.
bool read_all(int fd, void* data, size_t n, int timeout_ms) {
  char* p = static_cast<char*>(data);
  size_t got = 0;
  while (got < n) {
    if (timeout_ms >= 0) {
      pollfd pfd{fd, POLLIN, 0};
      int r = ::poll(&pfd, 1, timeout_ms);
      if (r == 0) throw std::runtime_error("tcp store: no answer within " + std::to_string(timeout_ms) + " ms");
      if (r < 0 && errno != EINTR) throw std::runtime_error("tcp store: poll failed");
    }
    ssize_t r = ::recv(fd, p + got, n - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0 && got == 0) return false;
    if (r <= 0) throw std::runtime_error("tcp store: connection closed by peer");
    got += static_cast<size_t>(r);
  }
  return true;
}

void send_message(int fd, char op, const std::string& key, const std::string& value) {
  uint32_t kl = static_cast<uint32_t>(key.size());
  uint64_t vl = value.size();
  std::string buf;
  buf.reserve(1 + 4 + key.size() + 8 + value.size());
  buf.push_back(op);
  buf.append(reinterpret_cast<const char*>(&kl), 4);
  buf.append(key);
  buf.append(reinterpret_cast<const char*>(&vl), 8);
  buf.append(value);
  write_all(fd, buf.data(), buf.size());
}

}  // namespace

struct TcpStore::Server {
  int listen_fd = -1;
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, std::string> data;
  std::thread acceptor;
  std::vector<std::thread> workers;
  std::vector<int> client_fds;
  std::chrono::milliseconds timeout;
  int active_clients = 0;
  bool linger = true;  // on shutdown, wait (bounded) for the other ranks to hang up

  void serve_client(int fd) {
    try {
      while (!stop) {
        char op;
        if (!read_all(fd, &op, 1, -1)) break;
        uint32_t kl;
        read_all(fd, &kl, 4, -1);
        std::string key(kl, '\0');
        read_all(fd, key.data(), kl, -1);
        uint64_t vl;
        read_all(fd, &vl, 8, -1);
        std::string value(vl, '\0');
        read_all(fd, value.data(), vl, -1);
        std::string reply;
        char status = 0;
        {
          std::unique_lock lock(mu);
          if (op == 'S') {
            data[key] = std::move(value);
            cv.notify_all();
          } else if (op == 'G') {
            if (!cv.wait_for(lock, timeout, [&] { return stop || data.count(key) > 0; }) || stop)
              status = 1;
            else
              reply = data[key];
          } else if (op == 'A') {
            int64_t cur = data.count(key) ? std::stoll(data[key]) : 0;
            cur += std::stoll(value);
            data[key] = std::to_string(cur);
            reply = data[key];
            cv.notify_all();
          } else if (op == 'E') {
            data.erase(key);
          }
        }
        uint64_t rl = reply.size();
        write_all(fd, &status, 1);
        write_all(fd, &rl, 8);
        write_all(fd, reply.data(), reply.size());
      }
    } catch (const std::exception&) {
      // A client that went away: nothing to do, its peers time out on their own waits.
    }
    std::lock_guard lock(mu);
    --active_clients;
    cv.notify_all();
  }

  void accept_loop() {
    while (!stop) {
      pollfd pfd{listen_fd, POLLIN, 0};
      if (::poll(&pfd, 1, 100) <= 0) continue;
      int fd = ::accept(listen_fd, nullptr, nullptr);
      if (fd < 0) continue;
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      std::lock_guard lock(mu);
      client_fds.push_back(fd);
      ++active_clients;
      workers.emplace_back([this, fd] { serve_client(fd); });
    }
  }

  // Rank 0 serves until every other rank has hung up (bounded by the timeout), so that a rank
  // finishing first does not pull the store from under the others.
  ~Server() {
    {
      std::unique_lock lock(mu);
      if (linger) cv.wait_for(lock, timeout, [&] { return active_clients == 0; });
    }
    stop = true;
    cv.notify_all();
    if (acceptor.joinable()) acceptor.join();
    {
      std::lock_guard lock(mu);
      for (int fd : client_fds) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& w : workers) w.join();
    for (int fd : client_fds) ::close(fd);
    if (listen_fd >= 0) ::close(listen_fd);
  }
};

TcpStore::TcpStore(const std::string& host, int port, int rank, std::chrono::milliseconds timeout)
    : rank_(rank), timeout_(timeout) {
  if (rank == 0) {
    server_ = std::make_unique<Server>();
    server_->timeout = timeout;
    server_->listen_fd = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(server_->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (::bind(server_->listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      throw std::runtime_error("tcp store: rank 0 cannot listen on port " + std::to_string(port) +
                               ": " + std::strerror(errno));
    ::listen(server_->listen_fd, 256);
    socklen_t len = sizeof addr;
    ::getsockname(server_->listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
    server_->acceptor = std::thread([s = server_.get()] { s->accept_loop(); });
  }
  port_ = port;

  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 || !res)
    throw std::runtime_error("tcp store: cannot resolve host '" + host + "'");
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (::connect(fd_, res->ai_addr, res->ai_addrlen) == 0) break;
    ::close(fd_);
    fd_ = -1;
    if (std::chrono::steady_clock::now() > deadline) {
      ::freeaddrinfo(res);
      throw std::runtime_error("tcp store: rank " + std::to_string(rank) + " could not reach rank 0 at " +
                               host + ":" + std::to_string(port) + " within " +
                               std::to_string(timeout.count()) + " ms");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::freeaddrinfo(res);
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void TcpStore::stop_waiting_for_peers() {
  if (!server_) return;
  std::lock_guard lock(server_->mu);
  server_->linger = false;
}

TcpStore::~TcpStore() {
  if (fd_ >= 0) ::close(fd_);  // our own connection first: the server waits for all to close
  server_.reset();
}

std::string TcpStore::request(char op, const std::string& key, const std::string& value) {
  send_message(fd_, op, key, value);
  char status;
  int wait_ms = static_cast<int>(timeout_.count()) + 5000;  // the server's own wait, plus slack
  if (!read_all(fd_, &status, 1, wait_ms))
    throw std::runtime_error("tcp store: rank " + std::to_string(rank_) + " lost the connection to rank 0's store (key '" + key + "'): rank 0 exited or died");
  uint64_t rl;
  read_all(fd_, &rl, 8, wait_ms);
  std::string reply(rl, '\0');
  read_all(fd_, reply.data(), rl, wait_ms);
  if (status == 1)
    throw std::runtime_error("tcp store: rank " + std::to_string(rank_) + " waited " +
                             std::to_string(timeout_.count()) + " ms for key '" + key +
                             "' (a peer rank died or hangs)");
  return reply;
}

void TcpStore::set(const std::string& key, const std::string& value) { request('S', key, value); }
std::string TcpStore::get(const std::string& key) { return request('G', key, ""); }
int64_t TcpStore::add(const std::string& key, int64_t delta) {
  return std::stoll(request('A', key, std::to_string(delta)));
}
void TcpStore::erase(const std::string& key) { request('E', key, ""); }

}  // namespace wm::dist
