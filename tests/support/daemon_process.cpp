#include "daemon_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace raqib::test {

using Clock = std::chrono::steady_clock;

std::string raqibBinary() {
  return RAQIB_TEST_BINARY;
}

TempFile::TempFile(const std::string &name, const std::string &content) {
  char tmpl[] = "/tmp/raqib-test-XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  // The daemon, once it has become the raqib user, reads plugins built here
  // and its printers write here.
  chmod(tmpl, 0755);
  if (const passwd *raqib = getpwnam("raqib")) (void)!chown(tmpl, raqib->pw_uid, raqib->pw_gid);
  dir_ = tmpl;
  path_ = dir_ + "/" + name;
  std::ofstream(path_) << content;
}

TempFile::~TempFile() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

DaemonProcess::DaemonProcess(std::vector<std::string> args) {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  args.insert(args.begin(), raqibBinary());
  pid_ = fork();
  if (pid_ == 0) {
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    std::vector<char *> argv;
    for (auto &a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  out_.fd = out[0];
  err_.fd = err[0];
}

namespace {

// What a sanitizer prints when it finds something (build-asan, build-tsan).
bool hasSanitizerReport(const std::string &log) {
  for (const char *mark : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", ": runtime error: ",
                           "Sanitizer: CHECK failed", "WARNING: ThreadSanitizer"})
    if (log.find(mark) != std::string::npos) return true;
  return false;
}

}  // namespace

DaemonProcess::~DaemonProcess() {
  if (!exit_code_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  // A report on a plugin thread cannot end the daemon (its seccomp filter
  // refuses exit_group), so the daemon may go on: the report fails the test.
  for (int i = 0; i < 10 && err_.fd >= 0; i++) pump(std::chrono::milliseconds(20));
  if (hasSanitizerReport(err_.all)) ADD_FAILURE() << "sanitizer report from raqib:\n" << err_.all;
  // Every record the suite sees is validated against the schema at its end
  // (test records_schema).
  if (const char *dir = std::getenv("RAQIB_TEST_RECORDS_DIR")) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    std::ofstream(fmt::format("{}/{}.jsonl", dir, pid_)) << out_.all;
  }
  if (out_.fd >= 0) close(out_.fd);
  if (err_.fd >= 0) close(err_.fd);
}

void DaemonProcess::pump(std::chrono::milliseconds timeout) {
  pollfd fds[2] = {{out_.fd, POLLIN, 0}, {err_.fd, POLLIN, 0}};
  if (poll(fds, 2, int(timeout.count())) <= 0) return;
  Stream *streams[2] = {&out_, &err_};
  for (int i = 0; i < 2; i++) {
    if (!(fds[i].revents & (POLLIN | POLLHUP))) continue;
    char buf[65536];
    ssize_t n = read(fds[i].fd, buf, sizeof buf);
    if (n <= 0) continue;
    Stream &s = *streams[i];
    s.all.append(buf, n);
    s.pending.append(buf, n);
    size_t nl;
    while ((nl = s.pending.find('\n')) != std::string::npos) {
      s.lines.push_back(s.pending.substr(0, nl));
      s.pending.erase(0, nl + 1);
    }
  }
}

std::optional<std::string> DaemonProcess::waitFor(
    Stream &s, const std::function<bool(const std::string &)> &match,
    std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    while (s.next < s.lines.size()) {
      const std::string &line = s.lines[s.next++];
      if (match(line)) return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return std::nullopt;
    if (reaped()) {
      // Exited: read what is left in the pipes, then give up.
      pump(std::chrono::milliseconds(100));
      while (s.next < s.lines.size())
        if (match(s.lines[s.next++])) return s.lines[s.next - 1];
      return std::nullopt;
    }
    pump(std::min(left, std::chrono::milliseconds(100)));
  }
}

std::optional<std::string> DaemonProcess::waitForStdout(
    const std::function<bool(const std::string &)> &match, std::chrono::milliseconds timeout) {
  return waitFor(out_, match, timeout);
}

std::optional<std::string> DaemonProcess::waitForStderr(
    const std::function<bool(const std::string &)> &match, std::chrono::milliseconds timeout) {
  return waitFor(err_, match, timeout);
}

bool DaemonProcess::waitReady(std::chrono::milliseconds timeout) {
  return waitForStderr([](const std::string &l) { return l.find("raqib ready") != l.npos; },
                       timeout)
      .has_value();
}

bool DaemonProcess::reaped() {
  if (exit_code_) return true;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  return true;
}

std::optional<int> DaemonProcess::wait(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!reaped()) {
    if (Clock::now() >= deadline) return std::nullopt;
    pump(std::chrono::milliseconds(50));  // keep the pipes from filling
  }
  for (int i = 0; i < 3; i++) pump(std::chrono::milliseconds(20));  // what is left in the pipes
  return exit_code_;
}

void DaemonProcess::closeStdout() {
  close(out_.fd);
  out_.fd = -1;  // poll ignores it from now on
}

std::optional<int> DaemonProcess::stop(std::chrono::milliseconds timeout) {
  if (!exit_code_) kill(pid_, SIGTERM);
  return wait(timeout);
}

ChildResult runChild(const std::vector<std::string> &argv) {
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, STDOUT_FILENO);
    std::vector<char *> v;
    for (auto &a : argv) v.push_back(const_cast<char *>(a.c_str()));
    v.push_back(nullptr);
    execv(v[0], v.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return {pid, status};
}

std::vector<std::string> onlyThese(const std::vector<std::string> &seen,
                                   const std::vector<std::string> &wanted) {
  std::set<std::string> keep(wanted.begin(), wanted.end());
  std::vector<std::string> out;
  for (const auto &s : seen)
    if (keep.count(s)) out.push_back(s);
  return out;
}

std::vector<std::string> readLines(const std::string &path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

std::map<std::string, std::string> procStatus(const std::string &path) {
  std::map<std::string, std::string> fields;
  for (const auto &line : readLines(path)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto value = line.find_first_not_of(" \t", colon + 1);
    fields[line.substr(0, colon)] = value == std::string::npos ? "" : line.substr(value);
  }
  return fields;
}

int shell(const std::string &command, std::string &log) {
  std::string full = command + " 2>&1";
  FILE *p = popen(full.c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) log.append(buf, n);
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

InstalledSdk installSdk(const std::string &root) {
  InstalledSdk sdk;
  sdk.ok = shell(fmt::format("meson install -C '{}' --no-rebuild --quiet --tags devel "
                             "--destdir '{}'",
                             RAQIB_BUILD_ROOT, root),
                 sdk.log) == 0;
  sdk.prefix =
      (std::filesystem::path(root) / std::filesystem::path(RAQIB_INSTALL_PREFIX).relative_path())
          .string();
  // The installed .pc, relocated into the temporary root by the sysroot.
  sdk.pkg_config = fmt::format(
      "PKG_CONFIG_PATH='{}/share/pkgconfig' PKG_CONFIG_SYSROOT_DIR='{}' "
      "PKG_CONFIG_LIBDIR= ",
      sdk.prefix, root);
  return sdk;
}

}  // namespace raqib::test
