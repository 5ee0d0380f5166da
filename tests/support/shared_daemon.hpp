// A fixture whose tests share one daemon, started once per test binary with
// short cadences and --events all, so each test sees every record.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "daemon_process.hpp"

namespace raqib::test {

class SharedDaemonTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    config_ =
        std::make_unique<TempFile>("raqib.toml",
                                   "[exec]\ncadence = \"50ms\"\n[file_access]\ncadence = \"50ms\"\n"
                                   "[printers.stdout]\nformat = \"json\"\n");
    daemon_ = std::make_unique<DaemonProcess>(
        std::vector<std::string>{"--config", config_->path(), "--events", "all"});
    ASSERT_TRUE(daemon_->waitReady()) << daemon_->stderrText();
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(daemon_->stop(), 0) << daemon_->stderrText();
    daemon_.reset();
    config_.reset();
  }

  static inline std::unique_ptr<TempFile> config_;
  static inline std::unique_ptr<DaemonProcess> daemon_;
};

}  // namespace raqib::test
