// The daemon's life: start the kernel side, seed processes, load plugins,
// drop privileges, then drain on each mechanism's cadence until SIGTERM.
#pragma once

#include <filesystem>

#include "config.hpp"
#include "recipes_cli.hpp"

namespace raqib {

// Where the daemon's configuration comes from, so that SIGHUP can read it
// again: the file (empty: the built-in default) and the command line's
// overrides (empty: as configured).
struct ConfigOrigin {
  std::string file;
  std::string format, transport, events;
};

// The recipes checked, their list files read in and origin's overrides
// applied: the configuration the daemon runs.
Status finishDaemonConfig(Config &config, const ConfigText &text, const ConfigOrigin &origin);

// Read origin's file again and finish it (SIGHUP).
Result<Config> readDaemonConfig(const ConfigOrigin &origin);

// Runs until SIGINT or SIGTERM; returns the process exit code. SIGHUP reads
// the configuration again from origin and reconfigures the plugins and
// printers whose sections changed (planReload); printers reopen their files.
int runDaemon(const Config &config, const ConfigOrigin &origin,
              const std::filesystem::path &exe_dir);

}  // namespace raqib
