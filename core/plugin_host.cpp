#include "plugin_host.hpp"

#include <unistd.h>

#include <future>

#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>
#include <spdlog/spdlog.h>

#include "output_format.hpp"

namespace raqib {

namespace {

int64_t unixNowNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1000000000ll + ts.tv_nsec;
}

spdlog::level::level_enum spdlogLevel(raqib_log_level level) {
  switch (level) {
    case RAQIB_LOG_DEBUG:
      return spdlog::level::debug;
    case RAQIB_LOG_INFO:
      return spdlog::level::info;
    case RAQIB_LOG_WARN:
      return spdlog::level::warn;
    default:
      return spdlog::level::err;
  }
}

}  // namespace

struct PluginHost::Worker {
  Worker(PluginHost &host, PluginLibrary library, PluginConfig config, size_t capacity)
      : host(host), library(std::move(library)), config(std::move(config)), queue(capacity) {
    api.struct_size = sizeof api;
    api.host = this;
    api.emit = &Worker::emit;
    api.log = &Worker::log;
    api.config = &Worker::configText;
  }

  const raqib_plugin_descriptor &descriptor() const { return *library.descriptor; }
  const std::string &name() const { return config.name; }

  // One item of a queue: a record for a detector, an output for a printer.
  struct Item {
    std::shared_ptr<const RecordSnapshot> record;
    std::shared_ptr<const Output> output;
  };

  void offer(Item item) {
    if (!queue.tryPush(std::move(item))) dropped.fetch_add(1, std::memory_order_relaxed);
  }

  void run(std::promise<std::string> &started) {
    char err[512] = "";
    state = descriptor().init(&api, err, sizeof err);
    if (!state) {
      started.set_value(err[0] ? err : "init returned no state and no reason");
      return;
    }
    started.set_value({});
    std::vector<Item> batch;
    while (queue.popAll(batch)) {
      for (Item &item : batch) handle(item);
      batch.clear();
    }
    descriptor().destroy(state);
  }

  void handle(const Item &item) {
    int rc;
    if (item.record) {
      current = item.record.get();
      rc = descriptor().on_record(state, &item.record->view());
      current = nullptr;
    } else {
      raqib_output out{};
      out.struct_size = sizeof out;
      out.kind = RAQIB_RECORD_DETECTION;
      out.json = item.output->json.c_str();
      out.json_len = item.output->json.size();
      out.text = item.output->text.c_str();
      out.text_len = item.output->text.size();
      rc = descriptor().on_output(state, &out);
    }
    handled.fetch_add(1, std::memory_order_relaxed);
    if (rc != 0) {
      failed.fetch_add(1, std::memory_order_relaxed);
      const char *why = descriptor().last_error(state);
      spdlog::warn("plugin {}: a call failed: {}", name(), why && *why ? why : "no reason given");
    }
  }

  static int emit(void *self, const raqib_detection *d) {
    auto *w = static_cast<Worker *>(self);
    if (w->descriptor().kind != RAQIB_PLUGIN_DETECTOR || !w->current) {
      spdlog::warn("plugin {}: emit outside on_record is refused", w->name());
      return -1;
    }
    if (!d || d->struct_size < sizeof(raqib_detection) || !d->name || !*d->name || !d->tactic ||
        !d->technique || !importanceName(d->importance) || d->record != &w->current->view()) {
      spdlog::warn(
          "plugin {}: malformed detection refused (name, tactic, technique, importance "
          "1-4 and the record being handled are required)",
          w->name());
      return -1;
    }
    thread_local boost::uuids::random_generator uuids;
    DetectionMeta meta{boost::uuids::to_string(uuids()),
                       unixNowNs(),
                       d->name,
                       w->name(),
                       d->tactic,
                       d->technique,
                       d->importance,
                       w->host.hostname_};
    auto output = std::make_shared<Output>(
        Output{detectionJson(meta, *d->record), detectionText(meta, *d->record)});
    w->host.publish(std::move(output));
    return 0;
  }

  static void log(void *self, raqib_log_level level, const char *message) {
    auto *w = static_cast<Worker *>(self);
    spdlog::log(spdlogLevel(level), "plugin {}: {}", w->name(), message ? message : "");
  }

  static const char *configText(void *self) {
    return static_cast<Worker *>(self)->config.section_toml.c_str();
  }

  PluginHost &host;
  PluginLibrary library;
  PluginConfig config;
  raqib_host_api api{};
  void *state = nullptr;
  BoundedQueue<Item> queue;
  std::thread thread;
  const RecordSnapshot *current = nullptr;  // the record on_record is handling
  std::atomic<uint64_t> handled{0}, dropped{0}, failed{0};
};

Result<std::unique_ptr<PluginHost>> PluginHost::load(const Config &config,
                                                     const std::filesystem::path &exe_dir) {
  std::unique_ptr<PluginHost> host(new PluginHost());
  char name[256] = "";
  gethostname(name, sizeof name - 1);
  host->hostname_ = name;

  auto dirs = pluginSearchPath(config, exe_dir);
  auto open = [&](const PluginConfig &pc, raqib_plugin_kind kind) -> Status {
    std::string file = pluginFileName(pc.name);
    for (const auto &dir : dirs) {
      std::error_code ec;
      if (!std::filesystem::exists(dir / file, ec)) continue;
      auto lib = openPlugin(dir / file);
      if (!lib) return Error{lib.error()};
      const raqib_plugin_descriptor &d = *lib->descriptor;
      if (d.kind != uint32_t(kind) || pc.name != d.name)
        return Error{fmt::format("plugin {}: configured as {} \"{}\" but it is {} \"{}\"",
                                 (dir / file).string(),
                                 kind == RAQIB_PLUGIN_DETECTOR ? "detector" : "printer", pc.name,
                                 d.kind == RAQIB_PLUGIN_DETECTOR ? "detector" : "printer", d.name)};
      auto &list = kind == RAQIB_PLUGIN_DETECTOR ? host->detectors_ : host->printers_;
      list.push_back(std::make_unique<Worker>(*host, std::move(*lib), pc, config.queue_capacity));
      return Ok{};
    }
    std::string searched;
    for (const auto &d : dirs) searched += (searched.empty() ? "" : ", ") + d.string();
    return Error{fmt::format("{}: plugin \"{}\" is enabled but {} was found in none of: {}",
                             config.source, pc.name, file, searched)};
  };
  for (const auto &pc : config.detectors)
    if (pc.enabled)
      if (auto s = open(pc, RAQIB_PLUGIN_DETECTOR); !s) return Error{s.error()};
  for (const auto &pc : config.printers)
    if (pc.enabled)
      if (auto s = open(pc, RAQIB_PLUGIN_PRINTER); !s) return Error{s.error()};
  if (host->printers_.empty())
    spdlog::warn("{}: no printer is enabled: detections will not be shown", config.source);
  return host;
}

PluginHost::~PluginHost() {
  stop();
}

Status PluginHost::start() {
  started_ = true;
  // Printers first, so the first detection has somewhere to go.
  for (auto *list : {&printers_, &detectors_}) {
    for (auto &w : *list) {
      std::promise<std::string> started;
      auto result = started.get_future();
      w->thread = std::thread([&w, &started] { w->run(started); });
      if (std::string why = result.get(); !why.empty())
        return Error{fmt::format("plugin {} ({}) failed to start: {}", w->name(),
                                 w->library.path.string(), why)};
    }
  }
  return Ok{};
}

void PluginHost::dispatch(const std::shared_ptr<const RecordSnapshot> &record) {
  uint32_t kind = record->view().kind;
  for (auto &w : detectors_)
    if (w->descriptor().subscriptions & kind) w->offer({record, nullptr});
}

void PluginHost::publishInfo(const RecordSnapshot &record) {
  int64_t now = unixNowNs();
  publish(std::make_shared<Output>(
      Output{infoJson(record.view(), now, hostname_), infoText(record.view(), now)}));
}

void PluginHost::publish(std::shared_ptr<const Output> output) {
  for (auto &w : printers_) w->offer({nullptr, output});
}

void PluginHost::stop() {
  if (!started_) return;
  started_ = false;
  for (auto *list : {&detectors_, &printers_}) {
    for (auto &w : *list) w->queue.close();
    for (auto &w : *list)
      if (w->thread.joinable()) w->thread.join();
  }
}

std::vector<PluginHost::PluginStats> PluginHost::stats() const {
  std::vector<PluginStats> all;
  for (auto *list : {&detectors_, &printers_})
    for (auto &w : *list)
      all.push_back({w->name(), w->handled.load(), w->dropped.load(), w->failed.load()});
  return all;
}

}  // namespace raqib
