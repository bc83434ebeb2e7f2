#include "trainer/checkpoint/atomic_dir.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace wm {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void io_fail(const std::string& what, const fs::path& p) {
  throw std::runtime_error(what + " '" + p.string() + "': " + std::strerror(errno));
}

class Fd {
 public:
  Fd(const fs::path& p, int flags, mode_t mode = 0644) : fd_(::open(p.c_str(), flags, mode)) {
    if (fd_ < 0) io_fail("cannot open", p);
  }
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

void write_file_durably(const fs::path& path, std::string_view bytes) {
  Fd fd(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC);
  const char* p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = ::write(fd.get(), p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      io_fail("cannot write", path);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) io_fail("cannot fsync", path);
}

void fsync_dir(const fs::path& dir) {
  Fd fd(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (::fsync(fd.get()) != 0) io_fail("cannot fsync folder", dir);
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open '" + path.string() + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw std::runtime_error("cannot read '" + path.string() + "'");
  return ss.str();
}

AtomicDirWriter::AtomicDirWriter(fs::path final_dir, FileHook after_file)
    : final_(std::move(final_dir)), after_file_(std::move(after_file)) {
  const fs::path parent = final_.parent_path().empty() ? fs::path(".") : final_.parent_path();
  fs::create_directories(parent);
  tmp_ = parent / (".tmp-" + final_.filename().string() + "-" + std::to_string(::getpid()));
  fs::remove_all(tmp_);
  fs::create_directory(tmp_);
}

AtomicDirWriter::~AtomicDirWriter() {
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(tmp_, ec);  // best effort; a leftover is cleaned by remove_stale_tmp_dirs
}

void AtomicDirWriter::write(const std::string& name, std::string_view bytes) {
  if (committed_) throw std::logic_error("AtomicDirWriter: write after commit");
  write_file_durably(tmp_ / name, bytes);
  if (after_file_) after_file_(name);
}

void AtomicDirWriter::commit(std::string_view marker_text) {
  write(kCompleteMarker, marker_text);
  fsync_dir(tmp_);
  const fs::path parent = tmp_.parent_path();
  if (fs::exists(final_)) {
    // Replace: move the old folder aside first so the final name never holds a partial folder.
    fs::path old = parent / (".tmp-old-" + final_.filename().string() + "-" + std::to_string(::getpid()));
    fs::remove_all(old);
    fs::rename(final_, old);
    fs::rename(tmp_, final_);
    fs::remove_all(old);
  } else {
    fs::rename(tmp_, final_);
  }
  committed_ = true;
  fsync_dir(parent);
}

bool is_complete_dir(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / kCompleteMarker, ec);
}

int remove_stale_tmp_dirs(const fs::path& parent) {
  std::error_code ec;
  if (!fs::is_directory(parent, ec)) return 0;
  int removed = 0;
  for (const auto& e : fs::directory_iterator(parent)) {
    if (e.is_directory() && e.path().filename().string().rfind(".tmp-", 0) == 0) {
      fs::remove_all(e.path(), ec);
      ++removed;
    }
  }
  return removed;
}

}  // namespace wm
