// `raqib --list-plugins`: every plugin and printer found, with kind, version
// and API version, and for each refused one the reason.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <raqib/plugin_api.h>

#include "daemon_process.hpp"

namespace raqib::test {
namespace {

using namespace std::chrono_literals;

TEST(PluginList, ListsLoadableAndRefusedPluginsWithReasons) {
  TempFile config("raqib.toml",
                  fmt::format("[core]\nplugin_dirs = [\"{}\"]\n", RAQIB_TEST_PLUGIN_DIR));
  DaemonProcess list({"--config", config.path(), "--list-plugins"});
  EXPECT_EQ(list.wait(30s), 1);  // some are refused
  const std::string &out = list.stdoutText();
  EXPECT_NE(out.find(fmt::format("plugin API {}.{}.{}\n", RAQIB_PLUGIN_API_VERSION_MAJOR,
                                 RAQIB_PLUGIN_API_VERSION_MINOR, RAQIB_PLUGIN_API_VERSION_PATCH)),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("file\tdetector\t"), std::string::npos) << out;
  const std::string api =
      fmt::format("API {}.{}.{}\t", RAQIB_PLUGIN_API_VERSION_MAJOR, RAQIB_PLUGIN_API_VERSION_MINOR,
                  RAQIB_PLUGIN_API_VERSION_PATCH);
  for (const char *printer : {"stdout", "logfile", "syslog", "webhook", "nats", "llm"})
    EXPECT_NE(out.find(fmt::format("{}\tprinter\t1.0.0\t{}", printer, api)), std::string::npos)
        << out;
  EXPECT_NE(out.find("fault-segv\tdetector\t1.0.0\t" + api), std::string::npos) << out;
  EXPECT_NE(out.find(fmt::format("badmajor\trefused\t-\tAPI {}.0.0\t",
                                 RAQIB_PLUGIN_API_VERSION_MAJOR + 99)),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("runs only plugins of major version"), std::string::npos) << out;
  EXPECT_NE(out.find("newminor\trefused"), std::string::npos) << out;
  EXPECT_NE(out.find("noversion\trefused\t-\tAPI ?\t"), std::string::npos) << out;
  EXPECT_NE(out.find("malformed\trefused"), std::string::npos) << out;
  EXPECT_NE(out.find("nodescriptor\trefused"), std::string::npos) << out;
}

}  // namespace
}  // namespace raqib::test
