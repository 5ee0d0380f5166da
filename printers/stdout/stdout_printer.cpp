// The stdout printer: one detection per line, as JSON or as text.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include <raqib/plugin.hpp>
#include <toml++/toml.h>

namespace {

class StdoutPrinter {
 public:
  explicit StdoutPrinter(raqib::Host host) {
    toml::table config = toml::parse(host.config());
    std::string format = "auto";
    for (auto &&[key, node] : config) {
      if (key.str() != "format")
        throw std::runtime_error("[printers.stdout] unknown key \"" + std::string(key.str()) +
                                 "\"; allowed: format");
      if (!node.is_string())
        throw std::runtime_error(
            "[printers.stdout] format must be \"auto\", \"json\" or "
            "\"text\"");
      format = node.as_string()->get();
    }
    if (format != "auto" && format != "json" && format != "text")
      throw std::runtime_error(
          "[printers.stdout] format must be \"auto\", \"json\" or \"text\", "
          "got \"" +
          format + "\"");
    json_ = format == "json" || (format == "auto" && !isatty(STDOUT_FILENO));
  }

  void onOutput(const raqib_output &out) {
    line_.assign(json_ ? out.json : out.text, json_ ? out.json_len : out.text_len);
    line_ += '\n';
    for (size_t done = 0; done < line_.size();) {
      ssize_t n = write(STDOUT_FILENO, line_.data() + done, line_.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw std::runtime_error(std::string("writing stdout: ") + strerror(errno));
      done += size_t(n);
    }
  }

 private:
  bool json_ = true;
  std::string line_;
};

}  // namespace

RAQIB_PRINTER(StdoutPrinter, "stdout", "1.0.0",
              "Detections, health and info records on standard output, JSON or text",
              RAQIB_RECORD_DETECTION | RAQIB_RECORD_HEALTH | RAQIB_RECORD_INFO |
                  RAQIB_RECORD_TAMPER,
              RAQIB_RESOURCE_STDOUT);
