#include "plugin_loader.hpp"

#include <elf.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <iterator>
#include <span>

#include <fmt/format.h>
#include <fmt/ranges.h>

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
        "the raqib SDK {}.{} (field {}, expected major {})",
        major, minor, patch, kMajor, kMinor, kPatch, kMajor, kMajor, kMinor,
        RAQIB_PLUGIN_API_VERSION_SYMBOL, kMajor);
  if (minor > kMinor)
    return fmt::format(
        "it needs plugin API {}.{}.{}, newer than this raqib's {}.{}.{}: "
        "upgrade raqib or use a plugin built for API {}.{} (field {}, expected "
        "minor <= {})",
        major, minor, patch, kMajor, kMinor, kPatch, kMajor, kMinor,
        RAQIB_PLUGIN_API_VERSION_SYMBOL, kMinor);
  return {};
}

namespace {

template <class T>
bool readAt(std::span<const char> file, uint64_t offset, T &out) {
  if (offset > file.size() || file.size() - offset < sizeof(T)) return false;
  std::memcpy(&out, file.data() + offset, sizeof(T));
  return true;
}

}  // namespace

Result<PluginElfInfo> readPluginElf(const fs::path &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Error{fmt::format("plugin {}: cannot load it: {}", path.string(), std::strerror(errno))};
  std::vector<char> file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return readPluginElfBytes(file, path);
}

Result<PluginElfInfo> readPluginElfBytes(std::span<const char> file, const fs::path &path) {
  auto bad = [&](const std::string &why) {
    return Error{fmt::format("plugin {}: cannot load it: {}", path.string(), why)};
  };
  Elf64_Ehdr eh;
  if (!readAt(file, 0, eh) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
    return bad("not an ELF file");
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
      eh.e_type != ET_DYN || eh.e_shentsize != sizeof(Elf64_Shdr))
    return bad("not a 64-bit little-endian ELF shared object");
  std::vector<Elf64_Shdr> sections(eh.e_shnum);
  for (size_t i = 0; i < sections.size(); i++)
    if (!readAt(file, eh.e_shoff + i * sizeof(Elf64_Shdr), sections[i]))
      return bad("truncated section headers");

  PluginElfInfo info;
  uint64_t descriptor_at = 0;  // the descriptor's address, once found
  for (const Elf64_Shdr &symtab : sections) {
    if (symtab.sh_type != SHT_DYNSYM || symtab.sh_link >= sections.size()) continue;
    const Elf64_Shdr &strtab = sections[symtab.sh_link];
    for (uint64_t off = 0; off + sizeof(Elf64_Sym) <= symtab.sh_size; off += sizeof(Elf64_Sym)) {
      Elf64_Sym sym;
      if (!readAt(file, symtab.sh_offset + off, sym)) return bad("truncated symbol table");
      int bind = ELF64_ST_BIND(sym.st_info);
      if (sym.st_shndx == SHN_UNDEF || sym.st_shndx >= sections.size() ||
          (bind != STB_GLOBAL && bind != STB_WEAK) ||
          ELF64_ST_VISIBILITY(sym.st_other) != STV_DEFAULT || sym.st_name >= strtab.sh_size)
        continue;
      uint64_t name_at = strtab.sh_offset + sym.st_name;
      if (name_at >= file.size()) continue;
      std::string name(file.data() + name_at,
                       strnlen(file.data() + name_at, file.size() - name_at));
      if (name == RAQIB_PLUGIN_API_VERSION_SYMBOL) {
        const Elf64_Shdr &data = sections[sym.st_shndx];
        std::array<uint32_t, 3> v;
        if (sym.st_size != sizeof v || data.sh_type == SHT_NOBITS || sym.st_value < data.sh_addr ||
            !readAt(file, sym.st_value - data.sh_addr + data.sh_offset, v))
          return Error{
              fmt::format("plugin {} refused: {} is not a const uint32_t[3] in "
                          "read-only data (size {}, expected {})",
                          path.string(), name, sym.st_size, sizeof v)};
        info.api_version = v;
      }
      if (name == RAQIB_PLUGIN_DESCRIPTOR_SYMBOL) {
        const Elf64_Shdr &data = sections[sym.st_shndx];
        raqib_plugin_descriptor d{};
        constexpr size_t kIntegers =
            offsetof(raqib_plugin_descriptor, resources) + sizeof d.resources;
        uint64_t at = sym.st_value - data.sh_addr + data.sh_offset;
        if (sym.st_size < kIntegers || data.sh_type == SHT_NOBITS || sym.st_value < data.sh_addr ||
            at > file.size() || file.size() - at < kIntegers)
          return Error{fmt::format(
              "plugin {} refused: {} is not a const raqib_plugin_descriptor in initialised "
              "data (size {}, expected at least {})",
              path.string(), name, sym.st_size, kIntegers)};
        std::memcpy(&d, file.data() + at, kIntegers);
        info.descriptor = DescriptorFields{d.kind, d.subscriptions, d.resources};
        descriptor_at = sym.st_value;
      }
      info.exports.insert(std::move(name));
    }
  }
  if (descriptor_at) {
    // The string a pointer member at address `at` points to once relocated.
    auto stringAt = [&](uint64_t at) -> std::string {
      for (const Elf64_Shdr &rela : sections) {
        if (rela.sh_type != SHT_RELA) continue;
        for (uint64_t off = 0; off + sizeof(Elf64_Rela) <= rela.sh_size;
             off += sizeof(Elf64_Rela)) {
          Elf64_Rela r;
          if (!readAt(file, rela.sh_offset + off, r)) return {};
          if (r.r_offset != at || ELF64_R_TYPE(r.r_info) != R_X86_64_RELATIVE) continue;
          for (const Elf64_Shdr &sec : sections) {
            uint64_t target = uint64_t(r.r_addend);
            if (sec.sh_type == SHT_NOBITS || target < sec.sh_addr ||
                target >= sec.sh_addr + sec.sh_size)
              continue;
            uint64_t from = target - sec.sh_addr + sec.sh_offset;
            if (from >= file.size()) return {};
            return std::string(file.data() + from, strnlen(file.data() + from, file.size() - from));
          }
        }
      }
      return {};
    };
    info.name = stringAt(descriptor_at + offsetof(raqib_plugin_descriptor, name));
    info.version = stringAt(descriptor_at + offsetof(raqib_plugin_descriptor, version));
    info.description = stringAt(descriptor_at + offsetof(raqib_plugin_descriptor, description));
  }
  return info;
}

namespace {

std::string fieldsProblem(const DescriptorFields &d) {
  if (d.kind != RAQIB_PLUGIN_DETECTOR && d.kind != RAQIB_PLUGIN_PRINTER)
    return fmt::format("descriptor kind is {}; expected {} (detector) or {} (printer)", d.kind,
                       int(RAQIB_PLUGIN_DETECTOR), int(RAQIB_PLUGIN_PRINTER));
  constexpr uint32_t kPrinterKinds = RAQIB_RECORD_DETECTION | RAQIB_RECORD_HEALTH |
                                     RAQIB_RECORD_INFO | RAQIB_RECORD_ATTENUATE |
                                     RAQIB_RECORD_TAMPER;
  constexpr uint32_t kDetectorKinds =
      RAQIB_RECORD_EXEC | RAQIB_RECORD_FILE | RAQIB_RECORD_FLOW | RAQIB_RECORD_DNS;
  uint32_t allowed = d.kind == RAQIB_PLUGIN_PRINTER ? kPrinterKinds : kDetectorKinds;
  if (!d.subscriptions || (d.subscriptions & ~allowed))
    return fmt::format(
        "descriptor subscriptions is {:#x}; expected a non-empty subset of {:#x} "
        "for a {}",
        d.subscriptions, allowed, d.kind == RAQIB_PLUGIN_PRINTER ? "printer" : "detector");
  if (d.resources & ~uint32_t(RAQIB_RESOURCE_ALL))
    return fmt::format("descriptor resources is {:#x}; expected a subset of {:#x}", d.resources,
                       uint32_t(RAQIB_RESOURCE_ALL));
  if (d.kind == RAQIB_PLUGIN_DETECTOR && d.resources)
    return fmt::format("descriptor resources is {:#x}; expected 0: a detector gets no resources",
                       d.resources);
  return {};
}

}  // namespace

Result<DescriptorFields> checkBeforeLoad(const fs::path &path) {
  auto elf = readPluginElf(path);
  if (!elf) return Error{elf.error()};
  return checkElf(*elf, path);
}

Result<DescriptorFields> checkElf(const PluginElfInfo &elf, const fs::path &path) {
  if (!elf.descriptor)
    return Error{
        fmt::format("plugin {}: it exports no \"{}\" descriptor; build it with the "
                    "raqib SDK (RAQIB_DETECTOR or RAQIB_PRINTER)",
                    path.string(), RAQIB_PLUGIN_DESCRIPTOR_SYMBOL)};
  if (!elf.api_version)
    return Error{
        fmt::format("plugin {} refused: the required symbol \"{}\" is missing; expected "
                    "a const uint32_t[3] {{major, minor, patch}} "
                    "(RAQIB_PLUGIN_EXPORT_API_VERSION in plugin_api.h)",
                    path.string(), RAQIB_PLUGIN_API_VERSION_SYMBOL)};
  auto [major, minor, patch] = *elf.api_version;
  if (auto why = apiIncompatibility(major, minor, patch); !why.empty())
    return Error{fmt::format("plugin {} refused: {}", path.string(), why)};
  if (auto why = fieldsProblem(*elf.descriptor); !why.empty())
    return Error{fmt::format("plugin {} refused: {}", path.string(), why)};
  return *elf.descriptor;
}

std::string descriptorProblem(const raqib_plugin_descriptor &d) {
  if (d.struct_size < sizeof d)
    return fmt::format("descriptor struct_size is {}; expected at least {} (API {}.{})",
                       d.struct_size, sizeof d, RAQIB_PLUGIN_API_VERSION_MAJOR,
                       RAQIB_PLUGIN_API_VERSION_MINOR);
  if (auto why = fieldsProblem({d.kind, d.subscriptions, d.resources}); !why.empty()) return why;
  if (!d.name || !*d.name) return "descriptor name is empty; expected [a-z0-9_-]+";
  for (const char *c = d.name; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
      return fmt::format("descriptor name \"{}\" has '{}'; expected [a-z0-9_-]+", d.name, *c);
  if (!d.version || !*d.version) return "descriptor version is empty; expected e.g. \"1.0.0\"";
  if (!d.description) return "descriptor description is NULL; expected one line";
  if (!d.init) return "descriptor init is NULL; it is required";
  if (!d.destroy) return "descriptor destroy is NULL; it is required";
  if (!d.last_error) return "descriptor last_error is NULL; it is required";
  if (d.kind == RAQIB_PLUGIN_DETECTOR && !d.on_record)
    return "descriptor on_record is NULL; a detector requires it";
  if (d.kind == RAQIB_PLUGIN_PRINTER && !d.on_output)
    return "descriptor on_output is NULL; a printer requires it";
  return {};
}

Result<PluginLibrary> openPlugin(const fs::path &path) {
  auto fields = checkBeforeLoad(path);
  if (!fields) return Error{fields.error()};
  PluginLibrary plugin;
  plugin.path = path;
  try {
    plugin.library.load(path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception &e) {
    return Error{fmt::format("plugin {}: cannot load it: {}", path.string(), e.what())};
  }
  const auto &d = plugin.library.get<const raqib_plugin_descriptor>(RAQIB_PLUGIN_DESCRIPTOR_SYMBOL);
  const auto &v = plugin.library.get<const uint32_t[3]>(RAQIB_PLUGIN_API_VERSION_SYMBOL);
  if (d.api_major != v[0] || d.api_minor != v[1] || d.api_patch != v[2])
    return Error{
        fmt::format("plugin {} refused: descriptor api version {}.{}.{}; expected {}.{}.{} "
                    "as its {} says",
                    path.string(), d.api_major, d.api_minor, d.api_patch, v[0], v[1], v[2],
                    RAQIB_PLUGIN_API_VERSION_SYMBOL)};
  if (auto why = descriptorProblem(d); !why.empty())
    return Error{fmt::format("plugin {} refused: {}", path.string(), why)};
  if (DescriptorFields{d.kind, d.subscriptions, d.resources} != *fields)
    return Error{fmt::format(
        "plugin {} refused: its descriptor's kind, subscriptions or resources changed while "
        "it loaded (from {}, {:#x}, {:#x} in the file to {}, {:#x}, {:#x})",
        path.string(), fields->kind, fields->subscriptions, fields->resources, d.kind,
        d.subscriptions, d.resources)};
  plugin.descriptor = &d;
  return plugin;
}

std::vector<FoundPlugin> findPlugins(const std::vector<fs::path> &dirs) {
  std::vector<FoundPlugin> found;
  std::set<std::string> seen;  // the first of a name wins, as when loading
  for (const auto &dir : dirs) {
    std::error_code ec;
    std::vector<fs::path> files;
    for (const auto &entry : fs::directory_iterator(dir, ec)) {
      std::string file = entry.path().filename().string();
      if (file.rfind("raqib-", 0) == 0 && file.size() > 9 && file.ends_with(".so"))
        files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto &path : files) {
      std::string file = path.filename().string();
      std::string name = file.substr(6, file.size() - 9);
      if (!seen.insert(name).second) continue;
      FoundPlugin p;
      p.path = path;
      p.name = name;
      auto elf = readPluginElf(path);
      if (elf && elf->api_version)
        p.api_version = fmt::format("{}", fmt::join(*elf->api_version, "."));
      auto fields = elf ? checkElf(*elf, path) : Result<DescriptorFields>(Error{elf.error()});
      if (!fields) {
        p.refused = fields.error();
      } else {
        p.kind = fields->kind == RAQIB_PLUGIN_DETECTOR ? "detector" : "printer";
        p.version = elf->version;
        p.description = elf->description;
        if (name != elf->name)
          p.refused = fmt::format(
              "plugin {} refused: descriptor name is \"{}\"; expected \"{}\" "
              "as the file name says",
              path.string(), elf->name, name);
      }
      found.push_back(std::move(p));
    }
  }
  return found;
}

}  // namespace raqib
