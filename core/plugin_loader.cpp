#include "plugin_loader.hpp"

#include <cstddef>

#include <fmt/format.h>

#ifndef RAQIB_PLUGIN_DIR_FROM_BIN
#error "meson defines RAQIB_PLUGIN_DIR_FROM_BIN"
#endif

namespace raqib {

namespace fs = std::filesystem;

std::string pluginFileName(std::string_view name) {
  return fmt::format("raqib-{}.so", name);
}

std::vector<fs::path> pluginSearchPath(const Config &config, const fs::path &exe_dir) {
  std::vector<fs::path> dirs(config.plugin_dirs.begin(), config.plugin_dirs.end());
  dirs.push_back(exe_dir / RAQIB_PLUGIN_DIR_FROM_BIN);  // installed
  // The build tree: build/core/raqib next to build/{plugins,printers}/<name>/.
  for (const char *group : {"plugins", "printers"}) {
    std::error_code ec;
    for (const auto &entry : fs::directory_iterator(exe_dir.parent_path() / group, ec))
      if (entry.is_directory()) dirs.push_back(entry.path());
  }
  return dirs;
}

std::string apiIncompatibility(uint32_t major, uint32_t minor, uint32_t patch) {
  constexpr uint32_t kMajor = RAQIB_PLUGIN_API_VERSION_MAJOR;
  constexpr uint32_t kMinor = RAQIB_PLUGIN_API_VERSION_MINOR;
  constexpr uint32_t kPatch = RAQIB_PLUGIN_API_VERSION_PATCH;
  if (major != kMajor)
    return fmt::format(
        "it was built for plugin API {}.{}.{}, but this raqib provides {}.{}.{} "
        "and runs only plugins of major version {}: rebuild the plugin against "
        "the raqib SDK {}.{}",
        major, minor, patch, kMajor, kMinor, kPatch, kMajor, kMajor, kMinor);
  if (minor > kMinor)
    return fmt::format(
        "it needs plugin API {}.{}.{}, newer than this raqib's {}.{}.{}: "
        "upgrade raqib or use a plugin built for API {}.{}",
        major, minor, patch, kMajor, kMinor, kPatch, kMajor, kMinor);
  return {};
}

namespace {

// What is wrong with a descriptor whose API version is compatible, or "".
std::string descriptorProblem(const raqib_plugin_descriptor &d) {
  if (d.struct_size < offsetof(raqib_plugin_descriptor, last_error) + sizeof d.last_error)
    return fmt::format("descriptor struct_size is {}, smaller than the {} bytes of API {}.{}",
                       d.struct_size, sizeof d, d.api_major, d.api_minor);
  if (d.kind != RAQIB_PLUGIN_DETECTOR && d.kind != RAQIB_PLUGIN_PRINTER)
    return fmt::format("descriptor kind is {}; expected {} (detector) or {} (printer)", d.kind,
                       int(RAQIB_PLUGIN_DETECTOR), int(RAQIB_PLUGIN_PRINTER));
  if (!d.name || !*d.name) return "descriptor name is empty";
  if (!d.version) return "descriptor version is NULL";
  if (!d.init) return "descriptor init is NULL; it is required";
  if (!d.destroy) return "descriptor destroy is NULL; it is required";
  if (!d.last_error) return "descriptor last_error is NULL; it is required";
  if (d.kind == RAQIB_PLUGIN_DETECTOR && !d.on_record)
    return "descriptor on_record is NULL; a detector requires it";
  if (d.kind == RAQIB_PLUGIN_PRINTER && !d.on_output)
    return "descriptor on_output is NULL; a printer requires it";
  return {};
}

}  // namespace

Result<PluginLibrary> openPlugin(const fs::path &path) {
  PluginLibrary plugin;
  plugin.path = path;
  try {
    plugin.library.load(path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception &e) {
    return Error{fmt::format("plugin {}: cannot load it: {}", path.string(), e.what())};
  }
  if (!plugin.library.has(RAQIB_PLUGIN_DESCRIPTOR_SYMBOL))
    return Error{
        fmt::format("plugin {}: it exports no \"{}\" descriptor; build it with the "
                    "raqib SDK (RAQIB_DETECTOR or RAQIB_PRINTER)",
                    path.string(), RAQIB_PLUGIN_DESCRIPTOR_SYMBOL)};
  const auto &d = plugin.library.get<const raqib_plugin_descriptor>(RAQIB_PLUGIN_DESCRIPTOR_SYMBOL);
  if (auto why = apiIncompatibility(d.api_major, d.api_minor, d.api_patch); !why.empty())
    return Error{fmt::format("plugin {} refused: {}", path.string(), why)};
  if (auto why = descriptorProblem(d); !why.empty())
    return Error{fmt::format("plugin {} refused: {}", path.string(), why)};
  plugin.descriptor = &d;
  return plugin;
}

}  // namespace raqib
