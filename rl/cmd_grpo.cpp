// `wemask grpo CONFIG.yaml [--set key=value ...] [--print-config] [--help-config]`
#include <cstdio>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "rl/grpo_config.h"
#include "rl/grpo_trainer.h"
#include "trainer/args.h"
#include "trainer/commands.h"

namespace wm {

int cmd_grpo(std::span<const std::string> argv) {
  constexpr const char* kUsage =
      "usage: wemask grpo CONFIG.yaml [--set key=value ...] [options]\n"
      "  --set k=v          override a config key (repeatable), e.g. --set rollout.n=8\n"
      "  --max-steps-now N  stop after step N of this run (a checkpoint is written), for tests\n"
      "  --print-config     print the resolved config and exit\n"
      "  --help-config      list every config key with its type, default and meaning\n";
  Args args(argv, {"max-steps-now"}, {"help", "print-config", "help-config"});
  if (args.has("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (args.has("help-config")) {
    std::fputs(rl::grpo_schema().describe().c_str(), stdout);
    return 0;
  }
  if (args.positional().size() != 1) throw std::invalid_argument(std::string("expected one config file\n") + kUsage);
  rl::GrpoConfig cfg = rl::GrpoConfig::load(args.positional()[0], args.sets());
  if (args.has("print-config")) {
    std::fputs(cfg.resolved.to_yaml().c_str(), stdout);
    return 0;
  }
  int64_t stop = 0;
  if (auto s = args.get("max-steps-now")) stop = std::stoll(*s);
  rl::GrpoTrainer trainer(std::move(cfg));
  rl::GrpoResult r = trainer.run(stop);
  if (!r.reward_mean.empty())
    spdlog::info("done: steps {}..{}, reward mean {:.3f} -> {:.3f}, accuracy {:.3f} -> {:.3f}, last checkpoint {}",
                 r.first_step, r.last_step, r.reward_mean.front(), r.reward_mean.back(), r.accuracy.front(),
                 r.accuracy.back(), r.last_checkpoint.string());
  return 0;
}

}  // namespace wm
