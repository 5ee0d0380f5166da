// The net detection plugin: connects, accepts, flows and DNS questions
// against recipes on addresses, ports and domain names (recipes.toml with its
// sample [lists], plus [[plugins.net.recipe]] and [plugins.net.lists]).
#include "recipe_detector.hpp"

namespace raqib {

extern const char kNetRecipes[];  // generated from recipes.toml

class NetDetector : public recipes::RecipeDetector {
 public:
  explicit NetDetector(Host host)
      : RecipeDetector(host, recipes::Plugin::Net, kNetRecipes, "raqib-net.so:recipes.toml") {}
};

}  // namespace raqib

RAQIB_DETECTOR(raqib::NetDetector, "net", "0.1.0",
               "Network: cloud metadata, threat lists, dynamic DNS, paste sites, mining pools, "
               "algorithmic domains",
               RAQIB_RECORD_FLOW | RAQIB_RECORD_DNS);
