#include "printer_section.hpp"

#include <fmt/format.h>

namespace raqib::printers {

namespace {

std::string joined(std::initializer_list<std::string_view> items, std::string_view quote) {
  std::string out;
  for (auto item : items)
    out += fmt::format("{}{}{}{}", out.empty() ? "" : ", ", quote, item, quote);
  return out;
}

}  // namespace

PrinterSection::PrinterSection(std::string_view name, std::string_view text,
                               std::initializer_list<std::string_view> keys)
    : name_(name) {
  try {
    table_ = toml::parse(text);
  } catch (const toml::parse_error &e) {
    throw ConfigError(fmt::format("[printers.{}]: {}", name_, e.description()));
  }
  for (auto &&[key, node] : table_) {
    bool known = false;
    for (auto k : keys) known = known || k == key.str();
    if (!known)
      throw ConfigError(fmt::format("[printers.{}] unknown key \"{}\"; allowed: {}", name_,
                                    key.str(), joined(keys, "")));
  }
}

void PrinterSection::fail(std::string_view key, const std::string &what) const {
  throw ConfigError(fmt::format("[printers.{}] {} {}", name_, key, what));
}

std::string PrinterSection::string(std::string_view key, std::string fallback) const {
  const toml::node *node = table_.get(key);
  if (!node) return fallback;
  if (!node->is_string()) fail(key, "must be a string");
  return node->as_string()->get();
}

std::string PrinterSection::choice(std::string_view key,
                                   std::initializer_list<std::string_view> choices,
                                   std::string fallback) const {
  std::string value = string(key, fallback);
  for (auto c : choices)
    if (c == value) return value;
  fail(key, fmt::format("must be one of {}, got \"{}\"", joined(choices, "\""), value));
}

int64_t PrinterSection::integer(std::string_view key, int64_t min, int64_t max,
                                int64_t fallback) const {
  const toml::node *node = table_.get(key);
  if (!node) return fallback;
  if (!node->is_integer() || node->as_integer()->get() < min || node->as_integer()->get() > max)
    fail(key, fmt::format("must be an integer from {} to {}", min, max));
  return node->as_integer()->get();
}

bool PrinterSection::boolean(std::string_view key, bool fallback) const {
  const toml::node *node = table_.get(key);
  if (!node) return fallback;
  if (!node->is_boolean()) fail(key, "must be true or false");
  return node->as_boolean()->get();
}

double PrinterSection::number(std::string_view key, double min, double max, double fallback) const {
  const toml::node *node = table_.get(key);
  if (!node) return fallback;
  std::optional<double> value = node->value<double>();  // an integer converts too
  if (!value || *value < min || *value > max)
    fail(key, fmt::format("must be a number from {} to {}", min, max));
  return *value;
}

std::vector<std::string> PrinterSection::strings(std::string_view key) const {
  const toml::node *node = table_.get(key);
  if (!node) return {};
  std::vector<std::string> out;
  const toml::array *array = node->as_array();
  if (!array) fail(key, "must be an array of strings");
  for (const toml::node &item : *array) {
    if (!item.is_string()) fail(key, "must be an array of strings");
    out.push_back(item.as_string()->get());
  }
  return out;
}

}  // namespace raqib::printers
