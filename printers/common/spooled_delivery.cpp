#include "spooled_delivery.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include <fmt/format.h>

namespace raqib::printers {

using Clock = std::chrono::steady_clock;

namespace {

std::string tokenOf(const PrinterSection &section) {
  std::string token_env = section.string("token_env", "");
  if (token_env.empty()) return section.string("token", "");
  const char *value = std::getenv(token_env.c_str());
  if (!value || !*value)
    section.fail("token_env",
                 fmt::format("names {}, which is not set in raqib's environment", token_env));
  return value;
}

}  // namespace

SpooledDelivery::SpooledDelivery(raqib::Host host, const PrinterSection &section,
                                 const std::string &default_dir, std::string_view done)
    : host_(host),
      done_(done),
      backoff_(std::chrono::milliseconds(section.integer("retry_initial_ms", 10, 60000, 500)),
               std::chrono::milliseconds(section.integer("retry_max_ms", 10, 3600000, 30000))),
      spool_(section.string("spool_dir", default_dir),
             uint64_t(section.integer("spool_max_bytes", 4096, int64_t(1) << 40, 64 << 20))),
      batch_max_(size_t(section.integer("batch_max", 1, 10000, 100))),
      token_(tokenOf(section)) {
  if (!spool_.empty())
    host_.log(RAQIB_LOG_INFO, fmt::format("{} records in the spool {} from before",
                                          spool_.pending(), spool_.dir()));
}

SpooledDelivery::~SpooledDelivery() {
  host_.log(RAQIB_LOG_INFO,
            fmt::format("{} records {}, {} dropped from a full spool, {} still spooled in {}",
                        sent_, done_, spool_.dropped(), spool_.pending(), spool_.dir()));
}

void SpooledDelivery::add(const std::string &record) {
  if (uint64_t dropped = spool_.append(record))
    host_.log(RAQIB_LOG_WARN,
              fmt::format("spool {} full: dropped its {} oldest records ({} so far)", spool_.dir(),
                          dropped, spool_.dropped()));
}

void SpooledDelivery::deliver(
    const std::function<std::string(const std::vector<std::string> &)> &send) {
  if (spool_.empty() || !backoff_.ready(Clock::now())) return;
  spool_.sync();
  auto until = Clock::now() + std::chrono::seconds(1);
  while (!spool_.empty() && Clock::now() < until) {
    auto batch = spool_.peek(batch_max_);
    std::string failure = send(batch.records);
    if (failure.empty()) {
      spool_.ack(batch);
      backoff_.succeeded();
      sent_ += batch.records.size();
      continue;
    }
    auto wait = backoff_.failed(Clock::now());
    throw PluginError(fmt::format("{}; {} records spooled, next try in {} ms", failure,
                                  spool_.pending(), wait.count()));
  }
}

}  // namespace raqib::printers
