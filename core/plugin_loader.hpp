// Finding, opening and checking plugin shared objects. A plugin is refused,
// with a message naming it, the field and the expected value, before any of
// its code runs where the file allows: the API version and the required
// exports are read from the ELF file before dlopen; the descriptor (which
// holds pointers, so needs relocating) is checked after dlopen and before
// any of its functions is called.
#pragma once

#define BOOST_DLL_USE_STD_FS
#include <boost/dll/shared_library.hpp>

#include <array>
#include <filesystem>
#include <optional>
#include <set>
#include <span>
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

// What the ELF file says without loading it.
struct PluginElfInfo {
  std::set<std::string> exports;  // defined, default-visibility dynamic symbols
  std::optional<std::array<uint32_t, 3>> api_version;  // RAQIB_PLUGIN_API_VERSION_SYMBOL
};

// The file name of the plugin called name: "raqib-<name>.so".
std::string pluginFileName(std::string_view name);

// Where plugins are searched: the configured plugin_dirs, then the built-in
// places relative to the daemon's own directory (build tree and install).
std::vector<std::filesystem::path> pluginSearchPath(const Config &config,
                                                    const std::filesystem::path &exe_dir);

// Read the dynamic symbol table of a 64-bit little-endian ELF shared object.
Result<PluginElfInfo> readPluginElf(const std::filesystem::path &path);
// The same on the file's bytes; path only names it in messages.
Result<PluginElfInfo> readPluginElfBytes(std::span<const char> file,
                                         const std::filesystem::path &path);

// Everything that can be checked without running the plugin's code: the
// file is an ELF shared object, exports the descriptor and the API version,
// and that version is compatible.
Status checkBeforeLoad(const std::filesystem::path &path);

// checkBeforeLoad, then load path and check its descriptor: API version,
// kind, name, subscriptions, resources, required members.
Result<PluginLibrary> openPlugin(const std::filesystem::path &path);

// The reason a plugin built for API major.minor cannot run here, or "".
std::string apiIncompatibility(uint32_t major, uint32_t minor, uint32_t patch);

// What is wrong with a loaded descriptor, naming the member and the expected
// value, or "".
std::string descriptorProblem(const raqib_plugin_descriptor &d);

// One raqib-*.so found in the search path, for `raqib --list-plugins`.
struct FoundPlugin {
  std::filesystem::path path;
  std::string name, kind, version, api_version, description;
  std::string refused;  // "" when it would be loaded
};
std::vector<FoundPlugin> findPlugins(const std::vector<std::filesystem::path> &dirs);

}  // namespace raqib
