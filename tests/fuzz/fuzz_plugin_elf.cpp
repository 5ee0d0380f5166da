// libFuzzer target: what the host reads from a plugin file before dlopen
// (dynamic symbols, the API version export) and its version check.
#include <cstddef>
#include <cstdint>
#include <span>

#include "plugin_loader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::span<const char> file(reinterpret_cast<const char *>(data), size);
  auto elf = raqib::readPluginElfBytes(file, "fuzz.so");
  if (elf && elf->api_version) {
    auto [major, minor, patch] = *elf->api_version;
    (void)raqib::apiIncompatibility(major, minor, patch);
  }
  return 0;
}
