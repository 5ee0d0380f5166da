// Runs detection plugins and printers, each on its own thread fed by its own
// bounded queue. Detections a detector emits are serialised once and queued
// to every printer.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bounded_queue.hpp"
#include "config.hpp"
#include "plugin_loader.hpp"
#include "record_snapshot.hpp"
#include "result.hpp"

namespace raqib {

// One serialised detection, shared by every printer's queue.
struct Output {
  std::string json;
  std::string text;
};

class PluginHost {
 public:
  // Find and open every enabled plugin and printer of config. Nothing runs yet.
  static Result<std::unique_ptr<PluginHost>> load(const Config &config,
                                                  const std::filesystem::path &exe_dir);
  ~PluginHost();

  // Start one thread per plugin; each calls its plugin's init there. Returns
  // once every init has returned: an error names the plugin that failed.
  Status start();

  // Queue a record to every detector subscribed to its kind.
  void dispatch(const std::shared_ptr<const RecordSnapshot> &record);

  // Queue a record to every printer as an informational output (--events all).
  void publishInfo(const RecordSnapshot &record);

  // Let every queue run empty, then stop the threads (printers last).
  void stop();

  struct PluginStats {
    std::string name;
    uint64_t handled;
    uint64_t dropped;  // refused because the queue was full
    uint64_t failed;   // calls that returned an error
  };
  std::vector<PluginStats> stats() const;

  struct Worker;

 private:
  PluginHost() = default;
  void publish(std::shared_ptr<const Output> output);
  friend struct Worker;

  std::vector<std::unique_ptr<Worker>> detectors_;
  std::vector<std::unique_ptr<Worker>> printers_;
  std::string hostname_;
  bool started_ = false;
};

}  // namespace raqib
