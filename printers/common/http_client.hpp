// One HTTP or HTTPS POST at a time, within one deadline, with Boost.Beast over
// Boost.Asio and OpenSSL; shared by the webhook and llm printers. Hosts are
// IP addresses: a printer's seccomp filter allows no name resolution.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <boost/system/system_error.hpp>

#include "printer_section.hpp"

namespace raqib::printers {

struct HttpTarget {
  bool tls = true;
  std::string host;  // an IPv4 or IPv6 address
  uint16_t port = 443;
  std::string path = "/";
};

// Reads KEY of section as http[s]://IP[:PORT][/PATH]; plain http only when
// allow_http. Throws ConfigError naming the key.
HttpTarget httpTarget(const PrinterSection &section, std::string_view key, bool allow_http);

struct TlsOptions {
  std::string ca_file;      // "" : the system's CAs
  bool verify = true;       // the certificate and its name
  std::string server_name;  // "" : the certificate must name the IP
};

// ca_file, verify and server_name of section.
TlsOptions tlsOptions(const PrinterSection &section);

class HttpClient {
 public:
  // Throws raqib::PluginError when the CAs cannot be read.
  HttpClient(HttpTarget target, const TlsOptions &tls);
  ~HttpClient();

  struct Response {
    unsigned status = 0;
    std::string reason;
    std::string body;
  };
  // Throws boost::system::system_error: no connection, TLS refused, timeout.
  Response post(const std::string &body, const std::string &bearer_token,
                std::chrono::milliseconds timeout);
  // The URL, for messages.
  std::string where() const;

 private:
  struct Impl;
  HttpTarget target_;
  TlsOptions tls_options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace raqib::printers
