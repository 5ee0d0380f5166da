// libFuzzer target: the configuration parser on arbitrary text. Any input
// must give a Config or an error naming a place, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);
  auto config = raqib::parseConfig(text, "fuzz.toml");
  if (!config && config.error().rfind("fuzz.toml", 0) != 0) __builtin_trap();  // unnamed place
  return 0;
}
