// The file detection plugin: matches file-activity records against path
// recipes (recipes.toml, plus any under [plugins.file] in the configuration).
#include <fnmatch.h>

#include <algorithm>

#include <string>
#include <vector>

#include <raqib/plugin.hpp>

#include "recipe.hpp"

namespace raqib {

extern const char kFileRecipes[];  // generated from recipes.toml

namespace {

using recipes::RecipeReader;

struct FileRecipe {
  recipes::RecipeMeta meta;
  uint32_t actions = 0;
  std::vector<std::string> paths;
  std::vector<std::string> exclude_paths;
  std::vector<std::string> exclude_exes;
};

// "~/x" stands for every home directory.
std::vector<std::string> expandHome(const std::vector<std::string> &patterns) {
  std::vector<std::string> out;
  for (const auto &p : patterns) {
    if (p.rfind("~/", 0) == 0) {
      out.push_back("/root" + p.substr(1));
      out.push_back("/home/*" + p.substr(1));
    } else {
      out.push_back(p);
    }
  }
  return out;
}

bool anyMatch(const std::vector<std::string> &patterns, const char *text) {
  for (const auto &p : patterns)
    if (fnmatch(p.c_str(), text, FNM_PATHNAME) == 0) return true;
  return false;
}

FileRecipe readRecipe(const toml::table &table, std::string_view source) {
  RecipeReader r(table, source);
  r.onlyKeys({"actions", "paths", "exclude_paths", "exclude_exes"});
  FileRecipe recipe;
  recipe.meta = r.meta();
  static constexpr std::pair<std::string_view, uint32_t> kActions[] = {
      {"open", RAQIB_ACTION_OPEN},
      {"read", RAQIB_ACTION_READ},
      {"write", RAQIB_ACTION_WRITE},
      {"create", RAQIB_ACTION_CREATE},
      {"truncate", RAQIB_ACTION_TRUNCATE}};
  for (const auto &name : r.strings("actions")) {
    auto it = std::find_if(std::begin(kActions), std::end(kActions),
                           [&](auto &a) { return a.first == name; });
    if (it == std::end(kActions))
      r.fail(*table.get("actions"),
             "actions must be among open, read, write, create, "
             "truncate; got \"" +
                 name + "\"");
    recipe.actions |= it->second;
  }
  if (!recipe.actions) r.fail(table, "actions is required (e.g. [\"open\"])");
  recipe.paths = expandHome(r.strings("paths"));
  if (recipe.paths.empty()) r.fail(table, "paths is required: at least one pattern");
  recipe.exclude_paths = expandHome(r.strings("exclude_paths"));
  recipe.exclude_exes = r.strings("exclude_exes");
  return recipe;
}

class FileDetector {
 public:
  explicit FileDetector(Host host) : host_(host) {
    for (const auto &t : recipes::recipeTables(kFileRecipes, "raqib-file.so:recipes.toml"))
      recipes_.push_back(readRecipe(t, "raqib-file.so:recipes.toml"));
    // The configuration's section: [[plugins.file.recipe]] tables.
    std::string_view own = host.config();
    for (const auto &t : recipes::recipeTables(own, "[plugins.file]"))
      recipes_.push_back(readRecipe(t, "[plugins.file]"));
    host_.log(RAQIB_LOG_INFO, std::to_string(recipes_.size()) + " file recipes loaded");
  }

  void onRecord(const raqib_record &record) {
    const raqib_file_record *file = record.file;
    if (!file) return;
    for (const FileRecipe &r : recipes_) {
      if (!(r.actions & file->actions)) continue;
      if (!anyMatch(r.paths, file->path) || anyMatch(r.exclude_paths, file->path)) continue;
      if (anyMatch(r.exclude_exes, record.process->exe)) continue;
      host_.emit(recipes::detectionFor(r.meta, record));
    }
  }

 private:
  Host host_;
  std::vector<FileRecipe> recipes_;
};

}  // namespace
}  // namespace raqib

RAQIB_DETECTOR(raqib::FileDetector, "file", "0.1.0",
               "File access: credentials, persistence and tampering by path recipes",
               RAQIB_RECORD_FILE);
