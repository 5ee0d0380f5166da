// The host refuses incompatible plugins before running any of their code
// (each test plugin aborts if its init is ever called): version and exports
// are read from the ELF file, so such a plugin is never even mapped.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

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

bool mapped(const std::filesystem::path &file) {
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);)
    if (line.find(file.filename().string()) != std::string::npos) return true;
  return false;
}

TEST(PluginLoader, RefusesBeforeDlopenSoNoCodeRuns) {
  for (const char *name : {"badmajor", "newminor", "noversion", "nodescriptor"}) {
    SCOPED_TRACE(name);
    EXPECT_FALSE(checkBeforeLoad(testPlugin(name)));
    EXPECT_FALSE(openPlugin(testPlugin(name)));
    EXPECT_FALSE(mapped(testPlugin(name)));
  }
}

TEST(PluginLoader, ReadsTheVersionFromTheElfFile) {
  auto elf = readPluginElf(testPlugin("badmajor"));
  ASSERT_TRUE(elf) << elf.error();
  ASSERT_TRUE(elf->api_version);
  EXPECT_EQ((*elf->api_version)[0], RAQIB_PLUGIN_API_VERSION_MAJOR + 99);
  EXPECT_TRUE(elf->exports.count("raqib_plugin"));
}

TEST(PluginLoader, RefusesAMissingVersionSymbolNamingIt) {
  auto p = openPlugin(testPlugin("noversion"));
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().find("the required symbol \"raqib_plugin_api_version\" is missing; "
                           "expected a const uint32_t[3]"),
            std::string::npos)
      << p.error();
}

TEST(PluginLoader, RefusesAMalformedDescriptorNamingTheMember) {
  auto p = openPlugin(testPlugin("malformed"));
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().find("refused: descriptor resources is 0x1; expected 0: a detector gets no "
                           "resources"),
            std::string::npos)
      << p.error();
}

TEST(PluginLoader, DescriptorChecksNameMemberAndExpectedValue) {
  raqib_plugin_descriptor d{};
  d.struct_size = sizeof d;
  d.kind = RAQIB_PLUGIN_DETECTOR;
  d.name = "Bad Name";
  d.version = "1";
  d.description = "";
  d.subscriptions = RAQIB_RECORD_FILE;
  EXPECT_EQ(descriptorProblem(d), "descriptor name \"Bad Name\" has 'B'; expected [a-z0-9_-]+");
  d.name = "ok";
  d.subscriptions = RAQIB_RECORD_DETECTION;
  EXPECT_EQ(descriptorProblem(d),
            "descriptor subscriptions is 0x10; expected a non-empty subset of 0xf for a detector");
  d.subscriptions = RAQIB_RECORD_FILE;
  EXPECT_EQ(descriptorProblem(d), "descriptor init is NULL; it is required");
  d.struct_size = 8;
  EXPECT_NE(descriptorProblem(d).find("descriptor struct_size is 8; expected at least"),
            std::string::npos);
}

TEST(PluginLoader, AcceptsTheSameVersion) {
  EXPECT_EQ(apiIncompatibility(RAQIB_PLUGIN_API_VERSION_MAJOR, RAQIB_PLUGIN_API_VERSION_MINOR, 0),
            "");
  EXPECT_NE(apiIncompatibility(RAQIB_PLUGIN_API_VERSION_MAJOR + 1, 0, 0), "");
}

// Listing describes plugins from their files: none of their code runs (their
// constructors would run with the lister's privileges).
TEST(PluginLoader, ListingRunsNoPluginCode) {
  std::string marker =
      std::filesystem::temp_directory_path() / ("raqib-ctor-marker-" + std::to_string(getpid()));
  std::filesystem::remove(marker);
  setenv("RAQIB_TEST_CTOR_MARKER", marker.c_str(), 1);
  auto found = findPlugins({RAQIB_TEST_PLUGIN_DIR});
  auto it = std::find_if(found.begin(), found.end(),
                         [](const FoundPlugin &p) { return p.name == "ctor-marker"; });
  ASSERT_NE(it, found.end());
  EXPECT_EQ(it->refused, "");
  EXPECT_EQ(it->kind, "detector");
  EXPECT_EQ(it->version, "1.0.0");
  EXPECT_EQ(it->description, "marks when its constructors run (tests only)");
  EXPECT_FALSE(std::filesystem::exists(marker)) << "listing ran the plugin's constructors";
  ASSERT_TRUE(openPlugin(testPlugin("ctor-marker")));  // loading does run them
  EXPECT_TRUE(std::filesystem::exists(marker));
  std::filesystem::remove(marker);
}

}  // namespace
}  // namespace raqib
