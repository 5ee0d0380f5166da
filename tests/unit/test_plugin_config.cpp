// The [core] keys of the plugin host and of least privilege, and the host's
// own keys in a plugin's section.
#include <gtest/gtest.h>

#include "config.hpp"

namespace raqib {
namespace {

using namespace std::chrono_literals;

Result<Config> parse(const std::string &text) {
  return parseConfig(text, "test.toml");
}

TEST(PluginConfig, ReadsSupervisionAndPrivilegeKeys) {
  auto c = parse(R"([core]
user = "raqib"
keep_capabilities = ["cap_net_bind_service"]
plugin_restart_limit = 5
plugin_restart_backoff = "250ms"
plugin_call_timeout = "2s"
attenuator_hold = "750ms"
[plugins.file]
queue_capacity = 64
recipe_dir = "/etc/raqib"
)");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->user, "raqib");
  EXPECT_EQ(c->keep_capabilities, std::vector<std::string>{"cap_net_bind_service"});
  EXPECT_EQ(c->plugin_restart_limit, 5u);
  EXPECT_EQ(c->plugin_restart_backoff, 250ms);
  EXPECT_EQ(c->plugin_call_timeout, 2s);
  EXPECT_EQ(c->attenuator_hold, 750ms);
  ASSERT_EQ(c->detectors.size(), 1u);
  EXPECT_EQ(c->detectors[0].queue_capacity, 64u);
  // The host's keys are not handed to the plugin; its own are.
  EXPECT_EQ(c->detectors[0].section_toml.find("queue_capacity"), std::string::npos);
  EXPECT_NE(c->detectors[0].section_toml.find("recipe_dir"), std::string::npos);
}

TEST(PluginConfig, DefaultsKeepNoCapabilityAndLeaveRoot) {
  auto c = parse("");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->user, "raqib");
  EXPECT_TRUE(c->keep_capabilities.empty());
  EXPECT_EQ(c->plugin_restart_limit, 3u);
  EXPECT_EQ(c->plugin_call_timeout, 5s);
  EXPECT_EQ(c->plugin_restart_window, 10min);
  EXPECT_EQ(c->attenuator_hold, 3s);
}

TEST(PluginConfig, EmptyUserIsRefusedWithTheWayToStayRoot) {
  auto c = parse("[core]\nuser = \"\"\n");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("test.toml:2:8"), std::string::npos) << c.error();
  EXPECT_NE(c.error().find("\"root\" to stay root"), std::string::npos) << c.error();
}

TEST(PluginConfig, UnknownCapabilityIsRefusedWithPlace) {
  auto c = parse("[core]\nkeep_capabilities = [\"cap_fly\"]\n");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().rfind("test.toml:2:22: [core] keep_capabilities: each must be a capability "
                            "name",
                            0),
            0u)
      << c.error();
}

TEST(PluginConfig, OutOfRangeDurationsAreRefused) {
  auto c = parse("[core]\nplugin_call_timeout = \"1ms\"\n");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(),
            "test.toml:2:23: [core] plugin_call_timeout must be a duration between "
            "50ms and 600s such as \"1s\"");
}

TEST(PluginConfig, DefaultConfigurationParses) {
  auto c = parseConfig(defaultConfigText(), "<built-in default>");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->plugin_restart_limit, 3u);
}

}  // namespace
}  // namespace raqib
