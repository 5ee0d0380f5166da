#include "http_client.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cstdlib>
#include <utility>  // before Boost.Asio 1.74's awaitable.hpp, which needs std::exchange

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/format.h>
#include <raqib/plugin.hpp>

namespace raqib::printers {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;

HttpTarget httpTarget(const PrinterSection &section, std::string_view key, bool allow_http) {
  std::string url = section.string(key, "");
  auto bad = [&](const std::string &why) {
    section.fail(key,
                 fmt::format("{}, got \"{}\"; e.g. \"https://192.0.2.10:8443/raqib\"", why, url));
  };
  HttpTarget t;
  std::string rest;
  if (url.rfind("https://", 0) == 0) {
    rest = url.substr(8);
  } else if (allow_http && url.rfind("http://", 0) == 0) {
    t.tls = false;
    t.port = 80;
    rest = url.substr(7);
  } else {
    bad(allow_http ? "must start with http:// or https://" : "must start with https://");
  }
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) t.path = rest.substr(slash);
  size_t colon = std::string::npos;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string::npos) bad("an IPv6 address needs a closing ]");
    t.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') bad("expected :PORT after the IPv6 address");
      colon = close + 1;
    }
  } else {
    colon = authority.find(':');
    t.host = authority.substr(0, colon);
  }
  if (colon != std::string::npos) {
    std::string port = authority.substr(colon + 1);
    char *end = nullptr;
    long p = std::strtol(port.c_str(), &end, 10);
    if (port.empty() || *end || p < 1 || p > 65535) bad("the port must be 1 to 65535");
    t.port = uint16_t(p);
  }
  boost::system::error_code ec;
  net::ip::make_address(t.host, ec);
  if (ec) bad("the host must be an IP address (names are not resolved; see server_name)");
  return t;
}

TlsOptions tlsOptions(const PrinterSection &section) {
  return {section.string("ca_file", ""), section.boolean("verify", true),
          section.string("server_name", "")};
}

struct HttpClient::Impl {
  ssl::context tls{ssl::context::tls_client};
};

HttpClient::HttpClient(HttpTarget target, const TlsOptions &tls)
    : target_(std::move(target)), tls_options_(tls), impl_(std::make_unique<Impl>()) {
  if (!target_.tls) return;
  boost::system::error_code ec;
  if (tls.ca_file.empty())
    impl_->tls.set_default_verify_paths(ec);
  else
    impl_->tls.load_verify_file(tls.ca_file, ec);
  if (ec)
    throw PluginError(
        tls.ca_file.empty()
            ? "the system's CA certificates cannot be used: " + ec.message() + "; set ca_file"
            : fmt::format("ca_file \"{}\" cannot be used: {}", tls.ca_file, ec.message()));
}

HttpClient::~HttpClient() = default;

std::string HttpClient::where() const {
  bool v6 = target_.host.find(':') != std::string::npos;
  return fmt::format("{}://{}{}{}:{}{}", target_.tls ? "https" : "http", v6 ? "[" : "",
                     target_.host, v6 ? "]" : "", target_.port, target_.path);
}

HttpClient::Response HttpClient::post(const std::string &body, const std::string &bearer_token,
                                      std::chrono::milliseconds timeout) {
  http::request<http::string_body> request(http::verb::post, target_.path, 11);
  request.set(http::field::host,
              tls_options_.server_name.empty() ? target_.host : tls_options_.server_name);
  request.set(http::field::user_agent, "raqib");
  request.set(http::field::content_type, "application/json");
  if (!bearer_token.empty()) request.set(http::field::authorization, "Bearer " + bearer_token);
  request.body() = body;
  request.prepare_payload();
  http::response<http::string_body> response;
  net::ip::tcp::endpoint peer(net::ip::make_address(target_.host), target_.port);

  net::io_context io;
  std::exception_ptr error;
  auto exchange = [&](auto &stream) -> net::awaitable<void> {
    co_await http::async_write(stream, request, net::use_awaitable);
    beast::flat_buffer buffer;
    co_await http::async_read(stream, buffer, response, net::use_awaitable);
  };
  auto done = [&](std::exception_ptr e) { error = e; };
  if (target_.tls) {
    beast::ssl_stream<beast::tcp_stream> stream(io, impl_->tls);
    SSL *ssl = stream.native_handle();
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
    if (!tls_options_.server_name.empty()) {
      SSL_set_tlsext_host_name(ssl, tls_options_.server_name.c_str());
      X509_VERIFY_PARAM_set1_host(param, tls_options_.server_name.c_str(), 0);
    } else {
      X509_VERIFY_PARAM_set1_ip_asc(param, target_.host.c_str());
    }
    stream.set_verify_mode(tls_options_.verify ? ssl::verify_peer : ssl::verify_none);
    beast::get_lowest_layer(stream).expires_after(timeout);  // one deadline for it all
    net::co_spawn(
        io,
        [&]() -> net::awaitable<void> {
          co_await beast::get_lowest_layer(stream).async_connect(peer, net::use_awaitable);
          co_await stream.async_handshake(ssl::stream_base::client, net::use_awaitable);
          co_await exchange(stream);
        },
        done);
    io.run();
  } else {
    beast::tcp_stream stream(io);
    stream.expires_after(timeout);
    net::co_spawn(
        io,
        [&]() -> net::awaitable<void> {
          co_await stream.async_connect(peer, net::use_awaitable);
          co_await exchange(stream);
        },
        done);
    io.run();
  }
  if (error) std::rethrow_exception(error);
  return {response.result_int(), std::string(response.reason()), std::move(response.body())};
}

}  // namespace raqib::printers
