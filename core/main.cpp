// raqib: the daemon's command line.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "config.hpp"
#include "bpf_monitor.hpp"
#include "daemon.hpp"
#include "features.hpp"
#include "plugin_loader.hpp"
#include "recipes_cli.hpp"

namespace {

std::filesystem::path exeDir() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::current_path() : self.parent_path();
}

// Exit 0 when every plugin found can be loaded, 1 when one is refused.
int listPlugins(const raqib::Config &config) {
  auto found = raqib::findPlugins(raqib::pluginSearchPath(config, exeDir()));
  std::cout << "plugin API " << RAQIB_PLUGIN_API_VERSION_MAJOR << "."
            << RAQIB_PLUGIN_API_VERSION_MINOR << "." << RAQIB_PLUGIN_API_VERSION_PATCH << "\n";
  int refused = 0;
  for (const auto &p : found) {
    if (p.refused.empty()) {
      std::cout << p.name << "\t" << p.kind << "\t" << p.version << "\tAPI " << p.api_version
                << "\t" << p.path.string() << "\t" << p.description << "\n";
    } else {
      refused++;
      std::cout << p.name << "\trefused\t-\tAPI " << (p.api_version.empty() ? "?" : p.api_version)
                << "\t" << p.path.string() << "\t" << p.refused << "\n";
    }
  }
  return refused ? 1 : 0;
}

}  // namespace

int main(int argc, char **argv) {
  CLI::App app{"raqib: query-driven eBPF runtime-security monitor"};
  app.set_version_flag("--version", std::string("raqib ") + RAQIB_VERSION);
  std::string config_file, check_file, format, transport, events;
  bool list_plugins = false;
  app.add_option("--config", config_file, "Run with this TOML configuration (default: built in)");
  app.add_option("--check-config", check_file, "Validate a configuration file and exit");
  app.add_option("--format", format,
                 "Detections on stdout: json (one object per line) or text; default: text on a "
                 "terminal, JSON otherwise")
      ->check(CLI::IsMember({"auto", "json", "text"}));
  app.add_option("--transport", transport,
                 "How records leave the kernel: query (bounded maps drained on a cadence) or "
                 "ringbuf (every event streamed, for comparison)")
      ->check(CLI::IsMember({"query", "ringbuf"}));
  app.add_option("--events", events,
                 "What the printers get: detections, or all (every record too, as kind info)")
      ->check(CLI::IsMember({"detections", "all"}));
  bool features = false;
  app.add_flag("--features", features,
               "Print which eBPF hook types this kernel allows and what raqib uses, then exit");
  app.add_flag("--list-plugins", list_plugins,
               "List every plugin and printer found (with --config: its plugin_dirs too), with "
               "kind, version and API version, or why it would be refused, and exit");
  bool list_recipes = false;
  app.add_flag("--list-recipes", list_recipes,
               "List the detection recipes the configuration loads (name, plugin, importance, "
               "MITRE tactic and technique) and exit");
  std::string replay_file;
  CLI::App *replay = app.add_subcommand(
      "replay", "Run the recipes over records captured with --events all (JSON lines); no root");
  replay->add_option("FILE.jsonl", replay_file, "The captured records")->required();
  replay->add_option("--config", config_file, "Recipes from this configuration");
  replay->add_option("--format", format, "Detections as json (default) or text")
      ->check(CLI::IsMember({"json", "text"}));
  CLI11_PARSE(app, argc, argv);
  // A closed stdout, a reset peer or a vanished log reader is an error for
  // the printer (or logger) that owns the fd, never the end of the daemon.
  signal(SIGPIPE, SIG_IGN);

  // Logs go to stderr; stdout carries detections only.
  auto logger = spdlog::stderr_color_mt("raqib");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  if (features) {
    if (geteuid() != 0) {
      std::cerr << "raqib --features loads trial eBPF programs: run it as root\n";
      return 1;
    }
    raqib::routeLibbpfLogs();
    std::cout << raqib::featuresTable(raqib::probeHooks()) << "\n" << raqib::entriesTable();
    return 0;
  }

  if (!check_file.empty()) {
    auto config = raqib::loadConfigFile(check_file);
    auto text = raqib::readConfigText(check_file);
    raqib::Status recipes = config && text ? raqib::checkRecipes(*config, *text) : raqib::Ok{};
    if (!config || !text || !recipes) {
      std::cerr << (!config ? config.error() : !text ? text.error() : recipes.error()) << "\n";
      return 2;
    }
    std::cout << check_file << ": valid\n";
    return 0;
  }

  auto config = config_file.empty()
                    ? raqib::parseConfig(raqib::defaultConfigText(), "<built-in default>")
                    : raqib::loadConfigFile(config_file);
  if (!config) {
    std::cerr << config.error() << "\n";
    return 2;
  }
  if (list_plugins) return listPlugins(*config);
  auto config_text = raqib::readConfigText(config_file);
  if (!config_text) {
    std::cerr << config_text.error() << "\n";
    return 2;
  }
  if (list_recipes) return raqib::listRecipes(*config, *config_text, std::cout);
  if (replay->parsed())
    return raqib::replayRecords(*config, *config_text, replay_file, format != "text", std::cout,
                                std::cerr);
  raqib::ConfigOrigin origin{config_file, format, transport, events};
  if (auto s = raqib::finishDaemonConfig(*config, *config_text, origin); !s) {
    std::cerr << s.error() << "\n";
    return 2;
  }
  spdlog::set_level(spdlog::level::from_str(config->log_level));
  int status = raqib::runDaemon(*config, origin, exeDir());
  // Plugins are never unloaded and their static destructors and atexit
  // handlers must not run on this thread: end without them.
  spdlog::shutdown();
  std::fflush(nullptr);
  _exit(status);
}
