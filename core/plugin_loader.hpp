// Finding, opening and checking plugin shared objects. A plugin is refused,
// with a message naming it, the field and the expected value, before any of
// its functions is called.
#pragma once

#define BOOST_DLL_USE_STD_FS
#include <boost/dll/shared_library.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include <raqib/plugin_api.h>

#include "config.hpp"
#include "result.hpp"

namespace raqib {

struct PluginLibrary {
  std::filesystem::path path;
  boost::dll::shared_library library;
  const raqib_plugin_descriptor *descriptor = nullptr;
};

// The file name of the plugin called name: "raqib-<name>.so".
std::string pluginFileName(std::string_view name);

// Where plugins are searched: the configured plugin_dirs, then the built-in
// places relative to the daemon's own directory (build tree and install).
std::vector<std::filesystem::path> pluginSearchPath(const Config &config,
                                                    const std::filesystem::path &exe_dir);

// Load path and check its descriptor: API version, kind, required members.
Result<PluginLibrary> openPlugin(const std::filesystem::path &path);

// The reason a plugin built for API major.minor cannot run here, or "".
std::string apiIncompatibility(uint32_t major, uint32_t minor, uint32_t patch);

}  // namespace raqib
