// What the printers that deliver to a peer that may be down share (webhook,
// nats): the spool and retry keys of their section, the token, and the loop
// that sends what is spooled, a batch at a time, acknowledging each batch the
// peer took and backing off when it took none.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <raqib/plugin.hpp>

#include "backoff.hpp"
#include "printer_section.hpp"
#include "spool.hpp"

namespace raqib::printers {

class SpooledDelivery {
 public:
  // Reads spool_dir (default_dir when absent), spool_max_bytes,
  // retry_initial_ms, retry_max_ms, batch_max, token and token_env from
  // section; done names what the peer does with a batch in the log
  // ("delivered", "acknowledged").
  SpooledDelivery(raqib::Host host, const PrinterSection &section, const std::string &default_dir,
                  std::string_view done);
  // Logs how many records were done, dropped and are still spooled.
  ~SpooledDelivery();
  SpooledDelivery(const SpooledDelivery &) = delete;
  SpooledDelivery &operator=(const SpooledDelivery &) = delete;

  // Spools one record; a full spool drops its oldest records (logged).
  void add(const std::string &record);

  // Sends what is spooled, for about a second at most, when the backoff
  // allows. send gets a batch (at most batchMax() records) and returns ""
  // when the peer took it, else why not. Throws raqib::PluginError naming
  // the failure, what is spooled and when the next try is.
  void deliver(const std::function<std::string(const std::vector<std::string> &)> &send);

  const std::string &token() const { return token_; }
  size_t batchMax() const { return batch_max_; }
  void limitBatch(size_t max) { batch_max_ = std::min(batch_max_, max); }

 private:
  raqib::Host host_;
  std::string done_;
  Backoff backoff_;
  Spool spool_;
  size_t batch_max_;
  std::string token_;
  uint64_t sent_ = 0;
};

}  // namespace raqib::printers
