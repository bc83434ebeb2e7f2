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

namespace {

// Several metrics files on one chart; labels from --labels, else the runs' folder names.
int plot_overlay(const Args& args, const char* usage) {
  const auto output = args.get("output");
  if (!output) throw std::invalid_argument(std::string("several metrics files need --output\n") + usage);
  std::vector<std::string> labels;
  if (auto l = args.get("labels")) {
    std::string item;
    for (char c : *l + ",") {
      if (c != ',') { item += c; continue; }
      labels.push_back(item);
      item.clear();
    }
    if (labels.size() != args.positional().size())
      throw std::invalid_argument("--labels gives " + std::to_string(labels.size()) + " labels for " +
                                  std::to_string(args.positional().size()) + " metrics files");
  }
  std::vector<std::pair<std::string, std::vector<nlohmann::json>>> runs;
  for (size_t i = 0; i < args.positional().size(); ++i) {
    const std::filesystem::path p = args.positional()[i];
    const std::string label = labels.empty() ? p.parent_path().filename().string() + "/" + p.stem().string() : labels[i];
    runs.emplace_back(label, read_metrics(p.string()));
  }
  write_file_durably(*output, metrics_overlay_svg(runs, args.get_or("title", "runs")));
  spdlog::info("wrote {} ({} runs)", *output, runs.size());
  return 0;
}

}  // namespace

int cmd_plot(std::span<const std::string> argv) {
  constexpr const char* kUsage =
      "usage: wemask plot METRICS.jsonl [--output FILE.svg]\n"
      "       wemask plot A.jsonl B.jsonl ... --output FILE.svg [--labels a,b,...] [--title T]\n"
      "  renders loss (train/eval), learning rate and grad norm against the step; with several\n"
      "  files, their training losses (and grad norms) overlaid, one line per run\n"
      "  --output FILE  the SVG to write (default: METRICS with the extension .svg)\n";
  Args args(argv, {"output", "labels", "title"}, {"help"});
  if (args.has("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (args.positional().empty()) throw std::invalid_argument(std::string("expected a metrics file\n") + kUsage);
  if (args.positional().size() > 1) return plot_overlay(args, kUsage);
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
