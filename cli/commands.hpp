// The `clustersim` subcommands. Each registers its options on the CLI11 app and returns the
// callback that runs it (returning the exit code).
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace clustersim::cli {

using Command = std::function<int()>;

struct CommandEntry {
  CLI::App* subcommand = nullptr;
  Command run;
};

CommandEntry add_predict(CLI::App& app);
CommandEntry add_catalog(CLI::App& app);
CommandEntry add_sweep(CLI::App& app);
CommandEntry add_search(CLI::App& app);
CommandEntry add_run(CLI::App& app);
CommandEntry add_calibrate(CLI::App& app);
CommandEntry add_validate(CLI::App& app);

}  // namespace clustersim::cli
