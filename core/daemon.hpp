// The daemon's life: start the kernel side, seed processes, load plugins,
// drop privileges, then drain on each mechanism's cadence until SIGTERM.
#pragma once

#include <filesystem>

#include "config.hpp"

namespace raqib {

// Runs until SIGINT or SIGTERM; returns the process exit code.
int runDaemon(const Config &config, const std::filesystem::path &exe_dir);

}  // namespace raqib
