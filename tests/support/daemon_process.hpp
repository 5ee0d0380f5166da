// Runs the real raqib binary as a child for end-to-end tests, with its
// stdout (detections) and stderr (logs) read line by line, every wait bounded.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace raqib::test {

// The daemon built by this tree (meson passes its path).
std::string raqibBinary();

// A TOML file in a fresh temporary directory, removed with the object.
class TempFile {
 public:
  TempFile(const std::string &name, const std::string &content);
  ~TempFile();
  const std::string &path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
};

class DaemonProcess {
 public:
  explicit DaemonProcess(std::vector<std::string> args);
  ~DaemonProcess();  // SIGKILL if still running

  pid_t pid() const { return pid_; }

  // The first stdout line (a detection) for which match is true, read
  // before timeout; nullopt when none came.
  std::optional<std::string> waitForStdout(const std::function<bool(const std::string &)> &match,
                                           std::chrono::milliseconds timeout);
  // Likewise on stderr (the log).
  std::optional<std::string> waitForStderr(const std::function<bool(const std::string &)> &match,
                                           std::chrono::milliseconds timeout);
  // Wait for the "raqib ready" log line.
  bool waitReady(std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // SIGTERM, then wait up to timeout for the exit; the exit code (-signal
  // when killed by one), nullopt when it did not exit in time.
  std::optional<int> stop(std::chrono::milliseconds timeout = std::chrono::seconds(15));
  // Wait for the daemon to exit on its own.
  std::optional<int> wait(std::chrono::milliseconds timeout);

  // Close the read end of the daemon's stdout, as a reader that went away.
  void closeStdout();

  // Everything read so far.
  const std::string &stderrText() const { return err_.all; }
  const std::string &stdoutText() const { return out_.all; }

 private:
  struct Stream {
    int fd = -1;
    std::string pending;  // a partial line
    std::vector<std::string> lines;
    size_t next = 0;  // first line not yet handed to a waiter
    std::string all;
  };
  std::optional<std::string> waitFor(Stream &s, const std::function<bool(const std::string &)> &m,
                                     std::chrono::milliseconds timeout);
  void pump(std::chrono::milliseconds timeout);  // read whatever arrives within timeout
  bool reaped();                                 // true once the daemon has exited

  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  Stream out_;
  Stream err_;
};

// fork+exec argv, wait for it; returns its pid and exit status.
struct ChildResult {
  pid_t pid;
  int status;
};
ChildResult runChild(const std::vector<std::string> &argv);

// Run a shell command; its exit status (-1 when it did not exit), with its
// output appended to log.
int shell(const std::string &command, std::string &log);

// The SDK as a third party has it: `meson install --tags devel` of this
// build into root, and the environment under which `pkg-config raqib-sdk`
// finds it there (and nothing of the source tree).
struct InstalledSdk {
  std::string prefix;      // root + the configured prefix
  std::string pkg_config;  // "PKG_CONFIG_PATH=... " to put before a command
  std::string log;         // what the install printed, or why it failed
  bool ok = false;
};
InstalledSdk installSdk(const std::string &root);
// The items of seen that are in wanted, in seen's order: what other
// processes on a shared machine triggered is left out.
std::vector<std::string> onlyThese(const std::vector<std::string> &seen,
                                   const std::vector<std::string> &wanted);

// Every line of the file, or empty.
std::vector<std::string> readLines(const std::string &path);

// The "Key: value" fields of a /proc/PID[/task/TID]/status file.
std::map<std::string, std::string> procStatus(const std::string &path);

}  // namespace raqib::test
