// What the printer tests share: detections made by reading /etc/shadow, and
// the two scenarios every printer with a spool (webhook, nats) must pass
// against its real peer.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "daemon_process.hpp"

namespace raqib::test {

// Readers of /etc/shadow, one after the other; their pids.
std::vector<pid_t> readShadow(int times);

// The uuids of the detections about pids, in the order stdout printed them,
// once all have come.
std::vector<std::string> detectionsOnStdout(DaemonProcess &daemon, const std::vector<pid_t> &pids);

// Both: times readers, and their detections' uuids in stdout's order.
std::vector<std::string> detectShadowReads(DaemonProcess &daemon, int times);

// A printer's peer the test stops and starts (the same port and store).
struct SpoolPeer {
  std::string plugin;     // "webhook"
  std::string delivered;  // its count in the printer's final log line: "delivered"
  std::function<bool()> start;
  std::function<void()> stop;
  std::function<std::vector<std::string>()> detections;  // uuids it holds, in its order
  // A line the daemon logs once the printer has set up a fresh peer, before
  // which the peer is not read ("": it may be read at once). nats-server
  // 2.9.10 crashes on a read while the printer creates its stream.
  std::string set_up = "";
};

// With the peer up and the daemon ready: detections before, during and
// after a 10-second outage of the peer (which the printer reports as
// "records spooled") all reach it exactly once and in order. Stops the
// daemon.
void expectOnceInOrderAcrossAnOutage(DaemonProcess &daemon, const SpoolPeer &peer);

// With the peer down: detections spooled when a daemon stops reach the peer
// from the next daemon, before any new detection, and once each.
void expectSpoolSurvivesARestart(const std::string &config_path, const SpoolPeer &peer);

}  // namespace raqib::test
