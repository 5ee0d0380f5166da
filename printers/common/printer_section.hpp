// A printer's own configuration section ([printers.NAME], handed over as TOML
// text by the host), read strictly: an unknown key, a wrong type or a value
// out of range throws with the section, the key and what to write instead.
// Shared by the printers; like them it uses only the SDK and toml++.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

namespace raqib::printers {

struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class PrinterSection {
 public:
  // name is the printer's, as in [printers.NAME]; text is what Host::config()
  // returned. Fails on any key not in keys.
  PrinterSection(std::string_view name, std::string_view text,
                 std::initializer_list<std::string_view> keys);

  std::string string(std::string_view key, std::string fallback) const;
  // One of choices, or fallback when the key is absent.
  std::string choice(std::string_view key, std::initializer_list<std::string_view> choices,
                     std::string fallback) const;
  int64_t integer(std::string_view key, int64_t min, int64_t max, int64_t fallback) const;
  bool boolean(std::string_view key, bool fallback) const;
  double number(std::string_view key, double min, double max, double fallback) const;
  std::vector<std::string> strings(std::string_view key) const;  // an array; absent: empty

  [[noreturn]] void fail(std::string_view key, const std::string &what) const;

 private:
  std::string name_;
  toml::table table_;
};

}  // namespace raqib::printers
