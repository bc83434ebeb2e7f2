// Writing a folder atomically: files go into a hidden temporary sibling, each is fsync'ed, a
// COMPLETE marker is written last, then the folder is renamed to its final name (and the parent
// fsync'ed). A crash at any moment leaves either no folder or a complete one under the final name;
// leftovers are hidden ".tmp-*" folders that remove_stale_tmp_dirs() cleans up.
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace wm {

inline constexpr const char* kCompleteMarker = "COMPLETE";

// Writes `bytes` to `path` and fsyncs it; throws std::runtime_error naming the file on failure.
void write_file_durably(const std::filesystem::path& path, std::string_view bytes);
void fsync_dir(const std::filesystem::path& dir);
std::string read_file(const std::filesystem::path& path);  // throws naming the file

class AtomicDirWriter {
 public:
  // Test hook, called after each file is complete (name of the file).
  using FileHook = std::function<void(const std::string&)>;

  explicit AtomicDirWriter(std::filesystem::path final_dir, FileHook after_file = {});
  ~AtomicDirWriter();  // removes the temporary folder unless commit() succeeded
  AtomicDirWriter(const AtomicDirWriter&) = delete;
  AtomicDirWriter& operator=(const AtomicDirWriter&) = delete;

  const std::filesystem::path& tmp_dir() const { return tmp_; }
  void write(const std::string& name, std::string_view bytes);
  // Writes the COMPLETE marker with `marker_text`, renames to the final name. A folder already
  // at the final name is replaced.
  void commit(std::string_view marker_text);

 private:
  std::filesystem::path final_, tmp_;
  FileHook after_file_;
  bool committed_ = false;
};

// True when `dir` holds the COMPLETE marker.
bool is_complete_dir(const std::filesystem::path& dir);
// Removes ".tmp-*" folders left in `parent` by interrupted writes; returns how many.
int remove_stale_tmp_dirs(const std::filesystem::path& parent);

}  // namespace wm
