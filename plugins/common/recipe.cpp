#include "recipe.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace raqib::recipes {

namespace {
constexpr std::string_view kCommonKeys[] = {"name", "description", "tactic", "technique",
                                            "importance"};
}

RecipeReader::RecipeReader(const toml::table &table, std::string_view source)
    : table_(table), source_(source) {
  const toml::node *name = table.get("name");
  if (!name || !name->is_string() || name->as_string()->get().empty())
    fail(table, "every [[recipe]] needs name = \"...\"");
  name_ = name->as_string()->get();
}

void RecipeReader::fail(const toml::node &at, const std::string &what) const {
  const auto &pos = at.source().begin;
  std::string who = name_.empty() ? "" : fmt::format("recipe \"{}\": ", name_);
  throw RecipeError(fmt::format("{}:{}:{}: {}{}", source_, pos.line, pos.column, who, what));
}

void RecipeReader::onlyKeys(std::initializer_list<std::string_view> extra_keys) const {
  for (auto &&[key, node] : table_) {
    auto k = key.str();
    if (std::find(std::begin(kCommonKeys), std::end(kCommonKeys), k) != std::end(kCommonKeys) ||
        std::find(extra_keys.begin(), extra_keys.end(), k) != extra_keys.end())
      continue;
    std::string allowed;
    for (auto a : kCommonKeys) allowed += fmt::format("{}{}", allowed.empty() ? "" : ", ", a);
    for (auto a : extra_keys) allowed += fmt::format(", {}", a);
    fail(node, fmt::format("unknown key \"{}\"; allowed: {}", k, allowed));
  }
}

std::vector<std::string> RecipeReader::strings(std::string_view key) const {
  std::vector<std::string> out;
  const toml::node *n = table_.get(key);
  if (!n) return out;
  const toml::array *a = n->as_array();
  if (!a) fail(*n, fmt::format("{} must be an array of strings", key));
  for (const toml::node &e : *a) {
    if (!e.is_string()) fail(e, fmt::format("{} must be an array of strings", key));
    out.push_back(e.as_string()->get());
  }
  return out;
}

RecipeMeta RecipeReader::meta() const {
  RecipeMeta m;
  m.name = name_;
  auto text = [&](std::string_view key, bool required) {
    const toml::node *n = table_.get(key);
    if (!n) {
      if (required) fail(table_, fmt::format("{} is required", key));
      return std::string();
    }
    if (!n->is_string() || n->as_string()->get().empty())
      fail(*n, fmt::format("{} must be a non-empty string", key));
    return n->as_string()->get();
  };
  m.description = text("description", false);
  m.tactic = text("tactic", true);
  m.technique = text("technique", true);
  std::string importance = text("importance", true);
  static constexpr std::pair<std::string_view, raqib_importance> kLevels[] = {
      {"low", RAQIB_IMPORTANCE_LOW},
      {"medium", RAQIB_IMPORTANCE_MEDIUM},
      {"high", RAQIB_IMPORTANCE_HIGH},
      {"critical", RAQIB_IMPORTANCE_CRITICAL}};
  auto it = std::find_if(std::begin(kLevels), std::end(kLevels),
                         [&](auto &l) { return l.first == importance; });
  if (it == std::end(kLevels))
    fail(*table_.get("importance"),
         fmt::format("importance must be low, medium, high or critical, got \"{}\"", importance));
  m.importance = it->second;
  return m;
}

std::vector<toml::table> recipeTables(std::string_view text, std::string_view source) {
  toml::table doc;
  try {
    doc = toml::parse(text, source);
  } catch (const toml::parse_error &e) {
    throw RecipeError(fmt::format("{}:{}:{}: {}", source, e.source().begin.line,
                                  e.source().begin.column, e.description()));
  }
  std::vector<toml::table> tables;
  for (auto &&[key, node] : doc) {
    if (key.str() != "recipe" || !node.is_array_of_tables())
      throw RecipeError(
          fmt::format("{}:{}:{}: only [[recipe]] tables are allowed here, got "
                      "\"{}\"",
                      source, key.source().begin.line, key.source().begin.column, key.str()));
    for (const toml::node &t : *node.as_array()) tables.push_back(*t.as_table());
  }
  return tables;
}

raqib_detection detectionFor(const RecipeMeta &meta, const raqib_record &record) {
  raqib_detection d{};
  d.struct_size = sizeof d;
  d.importance = meta.importance;
  d.name = meta.name.c_str();
  d.tactic = meta.tactic.c_str();
  d.technique = meta.technique.c_str();
  d.record = &record;
  return d;
}

}  // namespace raqib::recipes
