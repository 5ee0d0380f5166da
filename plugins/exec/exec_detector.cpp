// The exec detection plugin: process executions against recipes on the
// executable, its arguments, where it came from and its ancestry
// (recipes.toml, plus [[plugins.exec.recipe]] in the configuration).
#include "recipe_detector.hpp"

namespace raqib {

extern const char kExecRecipes[];  // generated from recipes.toml

class ExecDetector : public recipes::RecipeDetector {
 public:
  explicit ExecDetector(Host host)
      : RecipeDetector(host, recipes::Plugin::Exec, kExecRecipes, "raqib-exec.so:recipes.toml") {}
};

}  // namespace raqib

RAQIB_DETECTOR(raqib::ExecDetector, "exec", "0.1.0",
               "Process execution: attack tools, odd executables, shells where none belong",
               RAQIB_RECORD_EXEC);
