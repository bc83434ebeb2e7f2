// `wemask plot METRICS.jsonl [--output FILE.svg]`: loss / lr / grad-norm curves of a training run.
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "trainer/args.h"
#include "trainer/checkpoint/atomic_dir.h"
#include "trainer/commands.h"
#include "trainer/metrics/metrics_log.h"
#include "trainer/metrics/metrics_plot.h"

namespace wm {

int cmd_plot(std::span<const std::string> argv) {
  constexpr const char* kUsage =
      "usage: wemask plot METRICS.jsonl [--output FILE.svg]\n"
      "  renders loss (train/eval), learning rate and grad norm against the step\n"
      "  --output FILE  the SVG to write (default: METRICS with the extension .svg)\n";
  Args args(argv, {"output"}, {"help"});
  if (args.has("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (args.positional().size() != 1) throw std::invalid_argument(std::string("expected one metrics file\n") + kUsage);
  const std::string input = args.positional()[0];
  const std::string output =
      args.get_or("output", std::filesystem::path(input).replace_extension(".svg").string());
  const auto records = read_metrics(input);
  const std::string svg = metrics_svg(records, std::filesystem::path(input).stem().string());
  write_file_durably(output, svg);
  spdlog::info("wrote {} ({} records)", output, records.size());
  return 0;
}

}  // namespace wm
