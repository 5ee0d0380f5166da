// The file detection plugin: file-activity records against path recipes
// (recipes.toml, plus [[plugins.file.recipe]] in the configuration).
#include "recipe_detector.hpp"

namespace raqib {

extern const char kFileRecipes[];  // generated from recipes.toml

class FileDetector : public recipes::RecipeDetector {
 public:
  explicit FileDetector(Host host)
      : RecipeDetector(host, recipes::Plugin::File, kFileRecipes, "raqib-file.so:recipes.toml") {}
};

}  // namespace raqib

RAQIB_DETECTOR(raqib::FileDetector, "file", "0.2.0",
               "File access: credentials, persistence and tampering by path recipes",
               RAQIB_RECORD_FILE);
