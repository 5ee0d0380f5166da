// A detection plugin made of recipes: its built-in recipes (embedded at
// build time) plus those of its [plugins.NAME] section, matched against
// every record it is handed. The file, exec and net plugins are this class.
#pragma once

#include <raqib/plugin.hpp>

#include "recipe.hpp"

namespace raqib::recipes {

class RecipeDetector {
 public:
  // builtin: the plugin's recipes.toml text; builtin_source names it in errors.
  RecipeDetector(Host host, Plugin plugin, const char *builtin, const char *builtin_source);
  ~RecipeDetector();
  RecipeDetector(const RecipeDetector &) = delete;
  RecipeDetector &operator=(const RecipeDetector &) = delete;

  void onRecord(const raqib_record &record);

 private:
  void report(const std::string &line) const { host_.log(RAQIB_LOG_WARN, line); }

  Host host_;
  RecipeSet set_;
};

// The documents a plugin reads: builtin, then its configuration section.
std::vector<Document> pluginDocuments(Plugin plugin, const char *builtin,
                                      const char *builtin_source, std::string_view config);

}  // namespace raqib::recipes
