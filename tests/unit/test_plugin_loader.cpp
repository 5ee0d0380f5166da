// The host refuses incompatible plugins before running any of their code
// (each test plugin aborts if its init is ever called).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "plugin_loader.hpp"

namespace raqib {
namespace {

std::filesystem::path testPlugin(const char *name) {
  return std::filesystem::path(RAQIB_TEST_PLUGIN_DIR) / pluginFileName(name);
}

TEST(PluginLoader, RefusesAnotherMajorVersionNamingBoth) {
  auto p = openPlugin(testPlugin("badmajor"));
  ASSERT_FALSE(p);
  std::string expected = fmt::format(
      "plugin {} refused: it was built for plugin API {}.0.0, but this raqib provides {}.{}.{} "
      "and runs only plugins of major version {}",
      testPlugin("badmajor").string(), RAQIB_PLUGIN_API_VERSION_MAJOR + 99,
      RAQIB_PLUGIN_API_VERSION_MAJOR, RAQIB_PLUGIN_API_VERSION_MINOR,
      RAQIB_PLUGIN_API_VERSION_PATCH, RAQIB_PLUGIN_API_VERSION_MAJOR);
  EXPECT_EQ(p.error().rfind(expected, 0), 0u) << p.error();
}

TEST(PluginLoader, RefusesANewerMinorVersion) {
  auto p = openPlugin(testPlugin("newminor"));
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().find(fmt::format("it needs plugin API {}.{}.0, newer than this raqib's",
                                       RAQIB_PLUGIN_API_VERSION_MAJOR,
                                       RAQIB_PLUGIN_API_VERSION_MINOR + 1)),
            std::string::npos)
      << p.error();
}

TEST(PluginLoader, RefusesASharedObjectWithoutDescriptor) {
  auto p = openPlugin(testPlugin("nodescriptor"));
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().find("exports no \"raqib_plugin\" descriptor"), std::string::npos)
      << p.error();
}

TEST(PluginLoader, ReportsAFileThatIsNotASharedObject) {
  auto p = openPlugin("/etc/hostname");
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().find("plugin /etc/hostname: cannot load it"), std::string::npos) << p.error();
}

TEST(PluginLoader, AcceptsTheSameVersion) {
  EXPECT_EQ(apiIncompatibility(RAQIB_PLUGIN_API_VERSION_MAJOR, RAQIB_PLUGIN_API_VERSION_MINOR, 0),
            "");
  EXPECT_NE(apiIncompatibility(RAQIB_PLUGIN_API_VERSION_MAJOR + 1, 0, 0), "");
}

}  // namespace
}  // namespace raqib
