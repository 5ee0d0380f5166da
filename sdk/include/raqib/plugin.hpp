// SPDX-License-Identifier: Apache-2.0
// Header-only C++ wrapper over plugin_api.h. A plugin is a class; one macro
// exports it:
//
//   class MyDetector {
//    public:
//     explicit MyDetector(raqib::Host host);       // may throw: init fails
//     void onRecord(const raqib_record &record);   // may throw: reported
//   };
//   RAQIB_DETECTOR(MyDetector, "my-detector", "1.0.0", "what it detects",
//                  RAQIB_RECORD_FILE)
//
// A printer has onOutput(const raqib_output &) and uses RAQIB_PRINTER, which
// also names the record kinds it wants and the resources it needs. A printer
// that also has onTick() and a static constexpr uint32_t kTickIntervalMs is
// called about that often between outputs (API 1.1). No
// exception crosses the ABI: each is caught at the boundary and its message
// is returned through last_error (or init's err buffer). Throw
// raqib::PluginError for an ordinary failure (RAQIB_ERROR); anything else
// thrown is reported as an exception (RAQIB_ERROR_EXCEPTION).
#ifndef RAQIB_PLUGIN_HPP
#define RAQIB_PLUGIN_HPP

#include <raqib/plugin_api.h>

#include <cstddef>
#include <concepts>
#include <cstring>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

namespace raqib {

// An ordinary failure of one call: the host counts it as an error, not as an
// exception.
struct PluginError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A process and its ancestry (parent first), valid during the current call.
struct ProcessView {
  const raqib_process *process = nullptr;
  const raqib_process *ancestry = nullptr;
  uint32_t ancestry_len = 0;
  explicit operator bool() const { return process != nullptr; }
};

// The host's services, as handed to the plugin's constructor. Cheap to copy;
// valid for the plugin's lifetime, on the plugin's thread only.
class Host {
 public:
  explicit Host(const raqib_host_api *api) : api_(api) {}

  // Emit a detection; false when the host refused it as malformed.
  bool emit(const raqib_detection &detection) const {
    return api_->emit(api_->host, &detection) == 0;
  }
  void log(raqib_log_level level, const std::string &message) const {
    api_->log(api_->host, level, message.c_str());
  }
  // This plugin's section of the daemon's configuration, as TOML text.
  std::string_view config() const { return api_->config(api_->host); }
  // A process of the record being handled, with its ancestry; empty if none.
  ProcessView process(uint32_t pid) const {
    ProcessView v;
    v.process = api_->process(api_->host, pid, &v.ancestry, &v.ancestry_len);
    return v;
  }
  // This plugin's counters as the host keeps them.
  raqib_plugin_counters counters() const {
    raqib_plugin_counters c{};
    c.struct_size = sizeof c;
    api_->counters(api_->host, &c);
    return c;
  }
  // Attenuators: hand the detection with this id on to the other printers,
  // as json (empty: unchanged). False when the host does not know the id
  // (already handed on: the hold passed) or is older than API 1.1.
  bool forward(uint64_t id, std::string_view json) const {
    constexpr size_t kNeeded = offsetof(raqib_host_api, forward) + sizeof api_->forward;
    return api_->struct_size >= kNeeded &&
           api_->forward(api_->host, id, json.empty() ? nullptr : json.data(), json.size()) == 0;
  }
  // How many times the operator asked printers to reopen their files
  // (SIGHUP); 0 from a host older than API 1.1.
  uint64_t reopenGeneration() const {
    constexpr size_t kNeeded =
        offsetof(raqib_host_api, reopen_generation) + sizeof api_->reopen_generation;
    return api_->struct_size >= kNeeded ? api_->reopen_generation(api_->host) : 0;
  }

 private:
  const raqib_host_api *api_;
};

template <class T>
concept Detector = requires(T &plugin, const raqib_record &record) {
  plugin.onRecord(record);
};

template <class T>
concept Printer = requires(T &plugin, const raqib_output &output) {
  plugin.onOutput(output);
};

// A printer that also wants onTick() about every T::kTickIntervalMs
// milliseconds (raqib_host_api.set_tick, API 1.1).
template <class T>
concept Ticking = requires(T &plugin) {
  plugin.onTick();
  { T::kTickIntervalMs } -> std::convertible_to<uint32_t>;
};

namespace detail {

template <class T>
struct State {
  explicit State(Host host) : plugin(host) {}
  T plugin;
  std::string error;
};

inline void copyMessage(char *buf, size_t len, const char *message) {
  if (len == 0) return;
  std::strncpy(buf, message, len - 1);
  buf[len - 1] = '\0';
}

template <class T>
int onTick(void *state) noexcept;

template <class T>
void *init(const raqib_host_api *api, char *err, size_t err_len) noexcept {
  try {
    auto state = std::make_unique<State<T>>(Host(api));
    if constexpr (Ticking<T>) {
      constexpr size_t kNeeded = offsetof(raqib_host_api, set_tick) + sizeof api->set_tick;
      if (api->struct_size < kNeeded ||
          api->set_tick(api->host, &onTick<T>, T::kTickIntervalMs) != 0)
        throw std::runtime_error("the host cannot call onTick (needs plugin API 1.1)");
    }
    return state.release();
  } catch (const std::exception &e) {
    copyMessage(err, err_len, e.what());
  } catch (...) {
    copyMessage(err, err_len, "unknown exception in the plugin's constructor");
  }
  return nullptr;
}

template <class T>
void destroy(void *state) noexcept {
  delete static_cast<State<T> *>(state);
}

// Runs call on the plugin; RAQIB_OK, or an error with the message kept.
template <class T, class Call>
int guarded(void *state, Call &&call) noexcept {
  auto *s = static_cast<State<T> *>(state);
  try {
    call(s->plugin);
    return RAQIB_OK;
  } catch (const PluginError &e) {
    s->error = e.what();
    return RAQIB_ERROR;
  } catch (const std::exception &e) {
    s->error = e.what();
  } catch (...) {
    s->error = "unknown exception";
  }
  return RAQIB_ERROR_EXCEPTION;
}

template <Detector T>
int onRecord(void *state, const raqib_record *record) noexcept {
  return guarded<T>(state, [record](T &p) { p.onRecord(*record); });
}

template <Printer T>
int onOutput(void *state, const raqib_output *output) noexcept {
  return guarded<T>(state, [output](T &p) { p.onOutput(*output); });
}

template <class T>
int onTick(void *state) noexcept {
  if constexpr (Ticking<T>)
    return guarded<T>(state, [](T &p) { p.onTick(); });
  else
    return RAQIB_OK;
}

template <class T>
const char *lastError(void *state) noexcept {
  return static_cast<State<T> *>(state)->error.c_str();
}

}  // namespace detail
}  // namespace raqib

#define RAQIB_DESCRIPTOR_(Class, KIND, NAME, VERSION, DESCRIPTION, SUBSCRIPTIONS, RESOURCES,       \
                          ON_RECORD, ON_OUTPUT)                                                    \
  static_assert(std::is_constructible_v<Class, ::raqib::Host>,                                     \
                #Class " needs a constructor taking raqib::Host");                                 \
  RAQIB_PLUGIN_EXPORT_API_VERSION;                                                                 \
  extern "C" __attribute__((visibility("default"))) const raqib_plugin_descriptor raqib_plugin = { \
      sizeof(raqib_plugin_descriptor),                                                             \
      RAQIB_PLUGIN_API_VERSION_MAJOR,                                                              \
      RAQIB_PLUGIN_API_VERSION_MINOR,                                                              \
      RAQIB_PLUGIN_API_VERSION_PATCH,                                                              \
      KIND,                                                                                        \
      NAME,                                                                                        \
      VERSION,                                                                                     \
      DESCRIPTION,                                                                                 \
      SUBSCRIPTIONS,                                                                               \
      RESOURCES,                                                                                   \
      &::raqib::detail::init<Class>,                                                               \
      &::raqib::detail::destroy<Class>,                                                            \
      ON_RECORD,                                                                                   \
      ON_OUTPUT,                                                                                   \
      &::raqib::detail::lastError<Class>,                                                          \
  }

// Export Class as a detection plugin that receives the record kinds
// SUBSCRIPTIONS (raqib_record_kind bits). Detectors need no resources.
#define RAQIB_DETECTOR(Class, NAME, VERSION, DESCRIPTION, SUBSCRIPTIONS)                        \
  static_assert(::raqib::Detector<Class>, #Class " needs onRecord(const raqib_record &)");      \
  RAQIB_DESCRIPTOR_(Class, RAQIB_PLUGIN_DETECTOR, NAME, VERSION, DESCRIPTION, SUBSCRIPTIONS, 0, \
                    &::raqib::detail::onRecord<Class>, nullptr)

// Export Class as a printer of SUBSCRIPTIONS (RAQIB_RECORD_DETECTION,
// RAQIB_RECORD_HEALTH, RAQIB_RECORD_INFO and/or RAQIB_RECORD_TAMPER) that needs RESOURCES
// (raqib_resource bits).
#define RAQIB_PRINTER(Class, NAME, VERSION, DESCRIPTION, SUBSCRIPTIONS, RESOURCES)          \
  static_assert(::raqib::Printer<Class>, #Class " needs onOutput(const raqib_output &)");   \
  RAQIB_DESCRIPTOR_(Class, RAQIB_PLUGIN_PRINTER, NAME, VERSION, DESCRIPTION, SUBSCRIPTIONS, \
                    RESOURCES, nullptr, &::raqib::detail::onOutput<Class>)

#endif  // RAQIB_PLUGIN_HPP
