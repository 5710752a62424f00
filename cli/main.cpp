// clustersim: predict, then prove, how a deep-learning training job behaves on a cluster.
// Argument parsing and wiring only; every command lives in its own file over the libraries.
#include <iostream>
#include <map>

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "common.hpp"
#include "version.hpp"

int main(int argc, char** argv) {
  using namespace clustersim::cli;
  CLI::App app{"clustersim: predict and measure deep-learning training on a cluster"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("clustersim ") + CLUSTERSIM_VERSION + " (" + CLUSTERSIM_BUILD_FEATURES + ")");
  app.footer("Exit codes: 0 ok, 1 a failed check, 2 bad input, 3 internal error.\n"
             "Run 'clustersim COMMAND --help' for a command's options.");
  std::map<CLI::App*, Command> commands;
  for (auto* add : {add_predict, add_catalog, add_sweep, add_search, add_run, add_calibrate, add_validate}) {
    CommandEntry entry = add(app);
    commands[entry.subcommand] = std::move(entry.run);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitBadInput;
  }
  for (auto* sub : app.get_subcommands())
    if (auto it = commands.find(sub); it != commands.end()) return guarded(it->second);
  return kExitBadInput;
}
