// A third party's view: install the SDK alone (`meson install --tags devel`)
// into a temporary root, build the installed example with nothing but
// `pkg-config --cflags raqib-sdk` and make, then load it into the real daemon
// and see its detection.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "daemon_process.hpp"

namespace raqib::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

TEST(SdkInstall, ExampleBuildsOutOfTreeFromTheInstalledSdkAndLoads) {
  TempFile scratch("README", "");
  fs::path root = fs::path(scratch.path()).parent_path() / "root";
  fs::path out = fs::path(scratch.path()).parent_path() / "plugins";
  fs::create_directories(out);
  InstalledSdk sdk = installSdk(root.string());
  ASSERT_TRUE(sdk.ok) << sdk.log;
  fs::path prefix = sdk.prefix;
  fs::path examples = prefix / "share/doc/raqib-sdk/examples";
  ASSERT_TRUE(fs::exists(prefix / "include/raqib/plugin_api.h"));
  ASSERT_TRUE(fs::exists(examples / "canary_detector.cpp"));
  std::string env = sdk.pkg_config, log;
  std::string cflags;
  ASSERT_EQ(shell(env + " pkg-config --cflags raqib-sdk", cflags), 0) << cflags;
  EXPECT_NE(cflags.find("-I" + (prefix / "include").string()), std::string::npos) << cflags;
  EXPECT_EQ(cflags.find(RAQIB_SOURCE_ROOT), std::string::npos) << "the source tree leaked in";

  ASSERT_EQ(
      shell(fmt::format("{} make -C '{}' OUT='{}'", env, examples.string(), out.string()), log), 0)
      << log;
  ASSERT_TRUE(fs::exists(out / "raqib-canary.so")) << log;

  TempFile canary("canary-secrets.txt", "bait\n");
  fs::path watched = fs::path(canary.path()).parent_path();
  TempFile config("raqib.toml", fmt::format(R"([core]
plugin_dirs = ["{}"]
[exec]
cadence = "100ms"
[file_access]
cadence = "100ms"
[plugins.canary]
watch = "{}/"
[printers.stdout]
format = "json"
)",
                                            out.string(), watched.string()));
  DaemonProcess daemon({"--config", config.path()});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
  EXPECT_NE(daemon.stderrText().find("plugin canary: watching " + watched.string()),
            std::string::npos);
  ChildResult reader = runChild({"/usr/bin/cat", canary.path()});
  auto line = daemon.waitForStdout(
      [&](const std::string &l) {
        json j = json::parse(l, nullptr, false);
        return j.is_object() && j["plugin"] == "canary" && j["process"]["pid"] == reader.pid;
      },
      10s);
  ASSERT_TRUE(line) << daemon.stdoutText() << daemon.stderrText();
  json d = json::parse(*line);
  EXPECT_EQ(d["name"], "canary_file_opened");
  EXPECT_EQ(d["file"]["path"], canary.path());
  EXPECT_EQ(daemon.stop(), 0) << daemon.stderrText();
}

}  // namespace
}  // namespace raqib::test
