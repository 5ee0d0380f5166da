// The logfile printer: every record as one JSON line appended to a file
// (mode 0600), rotated by size into PATH.1 ... PATH.N, synced to disk by
// policy, and reopened when the operator sends SIGHUP (after logrotate moved
// the file). A record that cannot be written is not half-written: the file is
// cut back to its last whole line, the record is counted as lost and the
// call fails, so the host reports it (docs/printers.md).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

#include <fmt/format.h>
#include <raqib/plugin.hpp>

#include "fd.hpp"
#include "printer_section.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using raqib::printers::Fd;

enum class SyncPolicy { always, interval, never };

std::string errnoText(const std::string &what, const std::string &path) {
  return fmt::format("{} {}: {}", what, path, std::strerror(errno));
}

class LogfilePrinter {
 public:
  explicit LogfilePrinter(raqib::Host host) : host_(host) {
    raqib::printers::PrinterSection section(
        "logfile", host.config(),
        {"path", "max_bytes", "keep_files", "fsync", "fsync_interval_ms"});
    path_ = section.string("path", "/var/log/raqib/events.json");
    if (path_.empty() || path_.front() != '/' || path_.back() == '/')
      section.fail("path", fmt::format("must be an absolute file path, got \"{}\"", path_));
    dir_ = path_.substr(0, path_.rfind('/'));
    if (dir_.empty()) dir_ = "/";
    max_bytes_ = uint64_t(section.integer("max_bytes", 4096, int64_t(1) << 40, 100 << 20));
    keep_files_ = int(section.integer("keep_files", 0, 1000, 5));
    std::string sync = section.choice("fsync", {"always", "interval", "never"}, "interval");
    sync_ = sync == "always"  ? SyncPolicy::always
            : sync == "never" ? SyncPolicy::never
                              : SyncPolicy::interval;
    sync_interval_ =
        std::chrono::milliseconds(section.integer("fsync_interval_ms", 1, 3600 * 1000, 1000));
    generation_ = host_.reopenGeneration();
    makeDirectories();
    open();  // a path that cannot be opened is a configuration error: fail init
  }

  ~LogfilePrinter() {
    if (file_ && sync_ != SyncPolicy::never) fsync(file_.get());
    if (lost_)
      host_.log(RAQIB_LOG_WARN, fmt::format("{} records could not be written to {}", lost_, path_));
  }

  void onOutput(const raqib_output &out) {
    line_.assign(out.json, out.json_len);
    line_ += '\n';
    try {
      if (uint64_t g = host_.reopenGeneration(); g != generation_) {
        generation_ = g;
        reopen();
      }
      if (!file_) open();  // an earlier open failed
      if (size_ > 0 && size_ + line_.size() > max_bytes_) rotate();
      append();
    } catch (const raqib::PluginError &e) {
      lost_++;
      throw raqib::PluginError(
          fmt::format("{}; {} records not written to {} so far", e.what(), lost_, path_));
    }
    if (sync_ == SyncPolicy::always ||
        (sync_ == SyncPolicy::interval && Clock::now() - last_sync_ >= sync_interval_))
      syncFile();
  }

 private:
  // The file's directory, and those above it, as 0700 when missing.
  void makeDirectories() const {
    for (size_t slash = path_.find('/', 1); slash != std::string::npos;
         slash = path_.find('/', slash + 1)) {
      std::string dir = path_.substr(0, slash);
      if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
        throw raqib::PluginError(errnoText("creating the directory", dir));
    }
  }

  void open() {
    Fd fd(::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) throw raqib::PluginError(errnoText("opening", path_));
    struct stat st {};
    if (fstat(fd.get(), &st) != 0)
      throw raqib::PluginError(errnoText("reading the size of", path_));
    if (!S_ISREG(st.st_mode)) throw raqib::PluginError(path_ + " is not a regular file");
    // A file someone else created keeps its contents but not wider access.
    if ((st.st_mode & 07777) != 0600 && fchmod(fd.get(), 0600) != 0)
      throw raqib::PluginError(errnoText("setting mode 0600 on", path_));
    file_ = std::move(fd);
    size_ = uint64_t(st.st_size);
    last_sync_ = Clock::now();
  }

  void reopen() {
    if (file_ && sync_ != SyncPolicy::never) fsync(file_.get());
    file_.reset();
    open();
    host_.log(RAQIB_LOG_INFO, "reopened " + path_);
  }

  // PATH.(N-1) -> PATH.N, ..., PATH -> PATH.1 (the oldest is overwritten),
  // then a new PATH. With keep_files = 0, PATH is removed.
  void rotate() {
    if (sync_ != SyncPolicy::never) syncFile();
    file_.reset();
    auto numbered = [&](int n) { return fmt::format("{}.{}", path_, n); };
    if (keep_files_ == 0) {
      if (unlink(path_.c_str()) != 0 && errno != ENOENT)
        throw raqib::PluginError(errnoText("removing", path_));
    } else {
      for (int n = keep_files_ - 1; n >= 1; n--)
        if (rename(numbered(n).c_str(), numbered(n + 1).c_str()) != 0 && errno != ENOENT)
          throw raqib::PluginError(errnoText("rotating", numbered(n)));
      if (rename(path_.c_str(), numbered(1).c_str()) != 0 && errno != ENOENT)
        throw raqib::PluginError(errnoText("rotating", path_));
    }
    open();
    // The renames and the new file reach the disk with the directory.
    if (sync_ != SyncPolicy::never) {
      Fd dir(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (dir) fsync(dir.get());
    }
  }

  // The whole line, or nothing: a partial write is cut off again.
  void append() {
    for (size_t done = 0; done < line_.size();) {
      ssize_t n = write(file_.get(), line_.data() + done, line_.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        std::string why = errnoText("writing", path_);
        if (done > 0 && ftruncate(file_.get(), off_t(size_)) != 0)
          why += fmt::format(" (and cutting the partial line: {})", std::strerror(errno));
        throw raqib::PluginError(why);
      }
      done += size_t(n);
    }
    size_ += line_.size();
  }

  void syncFile() {
    if (fdatasync(file_.get()) != 0) throw raqib::PluginError(errnoText("syncing", path_));
    last_sync_ = Clock::now();
  }

  raqib::Host host_;
  std::string path_;
  std::string dir_;
  uint64_t max_bytes_ = 0;
  int keep_files_ = 0;
  SyncPolicy sync_ = SyncPolicy::interval;
  std::chrono::milliseconds sync_interval_{1000};
  uint64_t generation_ = 0;
  Fd file_;
  uint64_t size_ = 0;  // bytes in the open file
  Clock::time_point last_sync_{};
  uint64_t lost_ = 0;  // records not written
  std::string line_;
};

}  // namespace

RAQIB_PRINTER(LogfilePrinter, "logfile", "1.0.0",
              "Records as JSON lines in a file, rotated by size, reopened on SIGHUP",
              RAQIB_RECORD_DETECTION | RAQIB_RECORD_HEALTH | RAQIB_RECORD_INFO |
                  RAQIB_RECORD_TAMPER,
              RAQIB_RESOURCE_FILE_WRITE);
