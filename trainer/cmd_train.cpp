// `wemask train CONFIG.yaml [--set key=value ...] [--print-config] [--help-config]`
#include <cstdio>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "trainer/args.h"
#include "trainer/commands.h"
#include "trainer/config/sft_config.h"
#include "trainer/config/train_schema.h"
#include "trainer/sft/sft_trainer.h"

namespace wm {

int cmd_train(std::span<const std::string> argv) {
  constexpr const char* kUsage =
      "usage: wemask train CONFIG.yaml [--set key=value ...] [options]\n"
      "  --set k=v        override a config key (repeatable), e.g. --set optim.lr=1e-5\n"
      "  --max-steps-now N  stop after step N of this run (a checkpoint is written), for tests\n"
      "  --print-config   print the resolved config and exit\n"
      "  --help-config    list every config key with its type, default and meaning\n";
  Args args(argv, {"max-steps-now"}, {"help", "print-config", "help-config"});
  if (args.has("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (args.has("help-config")) {
    std::fputs(config::sft_schema().describe().c_str(), stdout);
    return 0;
  }
  if (args.positional().size() != 1) throw std::invalid_argument(std::string("expected one config file\n") + kUsage);
  SftConfig cfg = SftConfig::load(args.positional()[0], args.sets());
  if (args.has("print-config")) {
    std::fputs(cfg.resolved.to_yaml().c_str(), stdout);
    return 0;
  }
  int64_t stop = 0;
  if (auto s = args.get("max-steps-now")) stop = std::stoll(*s);
  SftTrainer trainer(std::move(cfg));
  SftResult r = trainer.run(stop);
  spdlog::info("done: steps {}..{}, loss {:.4f} -> {:.4f}, last checkpoint {}", r.first_step, r.last_step,
               r.first_loss, r.last_loss, r.last_checkpoint.string());
  return 0;
}

}  // namespace wm
