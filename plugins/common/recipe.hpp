// What every detection recipe has, whatever its plugin: a name, MITRE ATT&CK
// tags, importance. Read from TOML with errors naming FILE:LINE:COL. Plugins
// share this; like the plugins it uses only the SDK.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <raqib/plugin_api.h>
#include <toml++/toml.h>

namespace raqib::recipes {

// A recipe that cannot be used; the message names where and what to fix.
struct RecipeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct RecipeMeta {
  std::string name;
  std::string description;
  std::string tactic;
  std::string technique;
  raqib_importance importance = RAQIB_IMPORTANCE_MEDIUM;
};

// Reads one [[recipe]] table; every accessor throws RecipeError.
class RecipeReader {
 public:
  RecipeReader(const toml::table &table, std::string_view source);

  // Fails on any key that is neither common nor in extra_keys.
  void onlyKeys(std::initializer_list<std::string_view> extra_keys) const;
  RecipeMeta meta() const;
  std::vector<std::string> strings(std::string_view key) const;  // absent: empty
  [[noreturn]] void fail(const toml::node &at, const std::string &what) const;

 private:
  const toml::table &table_;
  std::string source_;
  std::string name_;
};

// Every [[recipe]] table of a TOML document (text), parsed as source.
std::vector<toml::table> recipeTables(std::string_view text, std::string_view source);

// The detection for record, filled from meta.
raqib_detection detectionFor(const RecipeMeta &meta, const raqib_record &record);

}  // namespace raqib::recipes
