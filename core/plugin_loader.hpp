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

// The descriptor's integer members, as the file holds them (its pointers
// need relocating, these do not): what the host must know before it lets
// any of the plugin's code run, to build the plugin thread's filter.
struct DescriptorFields {
  uint32_t kind = 0;
  uint32_t subscriptions = 0;
  uint32_t resources = 0;
  bool operator==(const DescriptorFields &) const = default;
};

// What the ELF file says without loading it.
struct PluginElfInfo {
  std::set<std::string> exports;  // defined, default-visibility dynamic symbols
  std::optional<std::array<uint32_t, 3>> api_version;  // RAQIB_PLUGIN_API_VERSION_SYMBOL
  std::optional<DescriptorFields> descriptor;          // RAQIB_PLUGIN_DESCRIPTOR_SYMBOL
  // The descriptor's name, version and description, read through the file's
  // relative relocations (as the loader would fill them in); "" where the
  // file does not say.
  std::string name, version, description;
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
// that version is compatible, and the descriptor's kind, subscriptions and
// resources are valid. Returns those.
Result<DescriptorFields> checkBeforeLoad(const std::filesystem::path &path);
// The same checks on a file already read (path names it in errors).
Result<DescriptorFields> checkElf(const PluginElfInfo &elf, const std::filesystem::path &path);

// checkBeforeLoad, then load path (running the plugin's constructors: call
// it only where they may run) and check its descriptor: API version, kind,
// name, subscriptions, resources, required members, and that its integer
// members are those the file said before loading.
Result<PluginLibrary> openPlugin(const std::filesystem::path &path);

// The reason a plugin built for API major.minor cannot run here, or "".
std::string apiIncompatibility(uint32_t major, uint32_t minor, uint32_t patch);

// What is wrong with a loaded descriptor, naming the member and the expected
// value, or "".
std::string descriptorProblem(const raqib_plugin_descriptor &d);

// One raqib-*.so found in the search path, for `raqib --list-plugins`. It is
// described from its file alone: listing runs none of a plugin's code.
struct FoundPlugin {
  std::filesystem::path path;
  std::string name, kind, version, api_version, description;
  std::string refused;  // "" when it would be loaded
};
std::vector<FoundPlugin> findPlugins(const std::vector<std::filesystem::path> &dirs);

}  // namespace raqib
