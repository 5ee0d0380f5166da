// The configuration parser: defaults, and a FILE:LINE:COL error naming what
// is allowed for every kind of bad input.
#include <gtest/gtest.h>

#include <set>

#include "config.hpp"
#include "daemon_process.hpp"

namespace raqib {
namespace {

using namespace std::chrono_literals;

Result<Config> parse(const std::string &text) {
  return parseConfig(text, "test.toml");
}

TEST(Config, EmbeddedDefaultParsesToTheDocumentedDefaults) {
  auto c = parseConfig(defaultConfigText(), "<default>");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->log_level, "info");
  EXPECT_EQ(c->exec.cadence, 250ms);
  EXPECT_EQ(c->file_access.cadence, 250ms);
  EXPECT_EQ(c->file_access.map_entries, 16384u);
  std::set<std::string> detectors;  // the recipe plugins
  for (const auto &d : c->detectors) {
    detectors.insert(d.name);
    EXPECT_TRUE(d.enabled) << d.name;
  }
  EXPECT_EQ(detectors, (std::set<std::string>{"exec", "file", "net"}));
  ASSERT_EQ(c->printers.size(), 6u);  // in name order; all but stdout shown, not run
  for (const auto &p : c->printers) EXPECT_EQ(p.enabled, p.name == "stdout") << p.name;
  EXPECT_EQ(c->printers[0].name, "llm");
  EXPECT_EQ(c->printers[1].name, "logfile");
  EXPECT_EQ(c->printers[2].name, "nats");
  EXPECT_EQ(c->printers[3].name, "stdout");
  EXPECT_NE(c->printers[3].section_toml.find("format"), std::string::npos);
  EXPECT_EQ(c->printers[4].name, "syslog");
  EXPECT_EQ(c->printers[5].name, "webhook");
}

TEST(Config, EmptyFileMeansDefaults) {
  auto c = parse("");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->file_access.cadence, 250ms);
  EXPECT_TRUE(c->detectors.empty());
}

TEST(Config, ReadsEveryKey) {
  auto c = parse(R"([core]
log_level = "debug"
plugin_dirs = ["/opt/raqib/plugins"]
queue_capacity = 100
[exec]
cadence = "1s"
map_entries = 1024
[file_access]
cadence = "50ms"
map_entries = 64
[strings]
map_entries = 2048
[plugins.file]
enabled = false
extra = 3
)");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->log_level, "debug");
  EXPECT_EQ(c->plugin_dirs, std::vector<std::string>{"/opt/raqib/plugins"});
  EXPECT_EQ(c->queue_capacity, 100u);
  EXPECT_EQ(c->exec.cadence, 1000ms);
  EXPECT_EQ(c->exec.map_entries, 1024u);
  EXPECT_EQ(c->file_access.cadence, 50ms);
  EXPECT_EQ(c->file_access.map_entries, 64u);
  EXPECT_EQ(c->strings_map_entries, 2048u);
  ASSERT_EQ(c->detectors.size(), 1u);
  EXPECT_FALSE(c->detectors[0].enabled);
  // The plugin's own keys reach it; "enabled" is the host's.
  EXPECT_NE(c->detectors[0].section_toml.find("extra = 3"), std::string::npos);
  EXPECT_EQ(c->detectors[0].section_toml.find("enabled"), std::string::npos);
}

TEST(Config, UnknownKeyNamesPlaceAndAllowedKeys) {
  auto c = parse("[core]\nlog_level = \"info\"\n  colour = true\n");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().rfind("test.toml:3:3: unknown key \"colour\" in [core]; allowed: "
                            "\"log_level\", \"plugin_dirs\", \"queue_capacity\"",
                            0),
            0u)
      << c.error();
}

TEST(Config, TamperSection) {
  auto c = parse(
      "[tamper]\ncadence = \"2s\"\nmap_entries = 64\n"
      "allowed_loaders = [\"/usr/sbin/bpftool\"]\n");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->tamper.cadence, 2s);
  EXPECT_EQ(c->tamper.map_entries, 64u);
  EXPECT_EQ(c->tamper_allowed_loaders, std::vector<std::string>{"/usr/sbin/bpftool"});
  auto relative = parse("[tamper]\nallowed_loaders = [\"bpftool\"]\n");
  ASSERT_FALSE(relative);
  EXPECT_EQ(relative.error(),
            "test.toml:2:20: [tamper] allowed_loaders must be an array of absolute paths");
  auto unknown = parse("[tamper]\nloaders = []\n");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error(),
            "test.toml:2:1: unknown key \"loaders\" in [tamper]; allowed: \"cadence\", "
            "\"map_entries\", \"allowed_loaders\"");
}

TEST(Config, UnknownSection) {
  auto c = parse("[network]\ncadence = \"1s\"\n");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().rfind("test.toml:1:2: unknown key \"network\" in the configuration", 0), 0u)
      << c.error();
}

TEST(Config, WrongType) {
  auto c = parse("[file_access]\nmap_entries = \"many\"\n");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(),
            "test.toml:2:15: [file_access] map_entries must be an integer between 16 and "
            "16777216, got a string");
}

TEST(Config, CadenceOutOfRange) {
  auto c = parse("[file_access]\ncadence = \"0s\"\n");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(),
            "test.toml:2:11: [file_access] cadence must be a duration between 10ms and 60s such "
            "as \"250ms\", got \"0s\"");
  EXPECT_FALSE(parse("[exec]\ncadence = \"2m\"\n"));
  EXPECT_FALSE(parse("[exec]\ncadence = \"fast\"\n"));
  EXPECT_FALSE(parse("[exec]\ncadence = 250\n"));
  EXPECT_TRUE(parse("[exec]\ncadence = \"10ms\"\n"));
  EXPECT_TRUE(parse("[exec]\ncadence = \"60s\"\n"));
}

TEST(Config, MapEntriesOutOfRange) {
  auto c = parse("[exec]\nmap_entries = 8\n");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), "test.toml:2:15: [exec] map_entries must be between 16 and 16777216, got 8");
}

TEST(Config, BadLogLevel) {
  auto c = parse("[core]\nlog_level = \"loud\"\n");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("test.toml:2:13: [core] log_level must be one of"), std::string::npos)
      << c.error();
}

TEST(Config, BadPluginName) {
  auto c = parse("[plugins.\"File!\"]\n");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("a plugin name is lower-case letters"), std::string::npos) << c.error();
}

TEST(Config, PluginSectionMustBeATable) {
  auto c = parse("[plugins]\nfile = true\n");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), "test.toml:2:8: [plugins.file] must be a table");
}

TEST(Config, SyntaxErrorHasPosition) {
  auto c = parse("[core\n");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().rfind("test.toml:1:", 0), 0u) << c.error();
}

TEST(Config, UnreadableFile) {
  auto c = loadConfigFile("/nonexistent/raqib.toml");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(),
            "/nonexistent/raqib.toml: cannot read the configuration: No such file or directory");
}

TEST(Config, FileErrorsNameTheFile) {
  test::TempFile f("bad.toml", "[exec]\ncadence = \"0s\"\n");
  auto c = loadConfigFile(f.path());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().rfind(f.path() + ":2:11: [exec] cadence", 0), 0u) << c.error();
}

TEST(Config, SetPluginOptionOverridesTheSection) {
  auto c = parse("[printers.stdout]\nformat = \"auto\"\n");
  ASSERT_TRUE(c) << c.error();
  setPluginOption(c->printers, "stdout", "format", "json");
  EXPECT_NE(c->printers[0].section_toml.find("format = 'json'"), std::string::npos)
      << c->printers[0].section_toml;
}

TEST(Duration, Units) {
  EXPECT_EQ(parseDuration("250ms"), 250ms);
  EXPECT_EQ(parseDuration("2s"), 2000ms);
  EXPECT_EQ(parseDuration("1m"), 60000ms);
  EXPECT_FALSE(parseDuration("ms"));
  EXPECT_FALSE(parseDuration("5"));
  EXPECT_FALSE(parseDuration("5h"));
  EXPECT_FALSE(parseDuration("-5s"));
  EXPECT_FALSE(parseDuration("99999999999s"));
}

TEST(Config, ReloadAppliesChangedSectionsAndNamesWhatNeedsARestart) {
  auto running = parse("[plugins.file]\n[printers.stdout]\nformat = \"json\"\n");
  ASSERT_TRUE(running) << running.error();

  auto same = parse("[plugins.file]\n[printers.stdout]\nformat = \"json\"\n");
  ReloadPlan nothing = planReload(*running, *same);
  EXPECT_TRUE(nothing.changed.empty());
  EXPECT_TRUE(nothing.not_applied.empty());

  auto sections = parse("[plugins.file]\nx = 1\n[printers.stdout]\nformat = \"text\"\n");
  ReloadPlan applied = planReload(*running, *sections);
  ASSERT_EQ(applied.changed.size(), 2u);
  EXPECT_EQ(applied.changed[0].name, "file");
  EXPECT_EQ(applied.changed[1].name, "stdout");
  EXPECT_TRUE(applied.not_applied.empty());

  auto restart =
      parse("[exec]\ncadence = \"1s\"\n[plugins.exec]\n[printers.stdout]\nformat = \"json\"\n");
  ReloadPlan refused = planReload(*running, *restart);
  EXPECT_TRUE(refused.changed.empty());
  EXPECT_EQ(
      refused.not_applied,
      (std::vector<std::string>{"plugin \"exec\" added", "plugin \"file\" removed",
                                "settings outside the [plugins.*] and [printers.*] sections"}));
}

}  // namespace
}  // namespace raqib
