// The subcommands of the `wemask` binary. Each lives in its own file (trainer/cmd_*.cpp or
// rl/cmd_*.cpp) and is listed once in trainer/commands.cpp.
#pragma once
#include <span>
#include <string>
#include <vector>

namespace wm {

using CommandFn = int (*)(std::span<const std::string> args);

struct Command {
  const char* name;
  const char* summary;
  CommandFn run;
};

const std::vector<Command>& commands();

// One declaration per subcommand (args exclude the binary and the subcommand name).
int cmd_version(std::span<const std::string> args);
int cmd_tokenize(std::span<const std::string> args);
int cmd_score(std::span<const std::string> args);
int cmd_export(std::span<const std::string> args);
int cmd_plot(std::span<const std::string> args);
int cmd_train(std::span<const std::string> args);
int cmd_analyze(std::span<const std::string> args);
int cmd_eval(std::span<const std::string> args);
int cmd_grpo(std::span<const std::string> args);
int cmd_generate(std::span<const std::string> args);

}  // namespace wm
