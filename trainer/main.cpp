// wemask: one binary, many subcommands (train, score, generate, analyze, eval, export, tokenize ...).
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "trainer/commands.h"

namespace {

void usage() {
  std::fprintf(stderr, "usage: wemask <command> [options]\n\ncommands:\n");
  for (const auto& c : wm::commands()) std::fprintf(stderr, "  %-10s %s\n", c.name, c.summary);
  std::fprintf(stderr, "\nRun `wemask <command> --help` for a command's options.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    usage();
    return argc < 2 ? 2 : 0;
  }
  std::string name = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  for (const auto& c : wm::commands()) {
    if (name != c.name) continue;
    try {
      return c.run(args);
    } catch (const std::exception& e) {
      spdlog::error("{}: {}", name, e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "wemask: unknown command '%s'\n\n", name.c_str());
  usage();
  return 2;
}
