#include "recipe_detector.hpp"

#include <fmt/format.h>

namespace raqib::recipes {

std::vector<Document> pluginDocuments(Plugin plugin, const char *builtin,
                                      const char *builtin_source, std::string_view config) {
  std::vector<Document> docs;
  docs.push_back(parseDocument(builtin, builtin_source));
  docs.push_back(parseDocument(config, fmt::format("[plugins.{}]", pluginName(plugin))));
  return docs;
}

RecipeDetector::RecipeDetector(Host host, Plugin plugin, const char *builtin,
                               const char *builtin_source)
    : host_(host),
      set_(RecipeSet::parse(plugin,
                            pluginDocuments(plugin, builtin, builtin_source, host.config()))) {
  size_t enabled = 0;
  for (const Recipe &r : set_.recipes()) enabled += r.enabled;
  host_.log(RAQIB_LOG_INFO, fmt::format("{} {} recipes loaded ({} disabled)", enabled,
                                        pluginName(plugin), set_.recipes().size() - enabled));
}

RecipeDetector::~RecipeDetector() {
  set_.flushSuppressed([this](const std::string &line) { report(line); });
}

void RecipeDetector::onRecord(const raqib_record &record) {
  set_.match(
      record, [&](const Recipe &r) { host_.emit(detectionFor(r.meta, record)); },
      [this](const std::string &line) { report(line); });
}

}  // namespace raqib::recipes
