// libFuzzer target: records decoded from raw BPF map bytes, the way the drain
// does it (core/drain.hpp decode*), through the process table and the record
// snapshot plugins get, to the JSON and text lines printers write. Each
// input is a sequence of map entries, each a kind byte and the entry's bytes.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "drain.hpp"
#include "output_format.hpp"

namespace {

// CLOCK_BOOTTIME to Unix time on a machine booted in 2026: a clock reading,
// not map bytes, so not fuzzed.
constexpr int64_t kBootToUnixNs = 1'790'000'000'000'000'000;

template <class T>
T consumeStruct(FuzzedDataProvider &in) {
  T out{};
  std::vector<uint8_t> bytes = in.ConsumeBytes<uint8_t>(sizeof(T));
  if (!bytes.empty()) std::memcpy(&out, bytes.data(), bytes.size());
  return out;
}

// A string as the strings map holds it, or nullptr when the kernel evicted it.
std::unique_ptr<std::string> consumeString(FuzzedDataProvider &in) {
  if (in.ConsumeBool()) return nullptr;
  auto s = std::make_unique<raqib_string>();
  *s = consumeStruct<raqib_string>(in);
  return std::make_unique<std::string>(raqib::stringText(*s));
}

void print(const std::shared_ptr<const raqib::RecordSnapshot> &snapshot) {
  raqib::DetectionMeta meta;
  meta.uuid = "00000000-0000-4000-8000-000000000000";
  meta.time_unix_ns = kBootToUnixNs;
  meta.name = "fuzz";
  meta.plugin = "fuzz";
  meta.importance = 2;
  meta.host = "fuzz";
  const raqib_record &r = snapshot->view();
  (void)raqib::detectionJson(meta, r);
  (void)raqib::detectionText(meta, r);
  (void)raqib::infoJson(r, kBootToUnixNs, "fuzz");
  (void)raqib::infoText(r, kBootToUnixNs);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FuzzedDataProvider in(data, size);
  raqib::ProcessTable table;
  // The strings map: each look-up reads the next string of the input, and
  // the one before is gone, as when the drain's cache forgets everything.
  std::unique_ptr<std::string> looked_up;
  raqib::StringLookup strings = [&](uint64_t) {
    looked_up = consumeString(in);
    return looked_up.get();
  };
  while (in.remaining_bytes() > 0) {
    switch (in.ConsumeIntegralInRange<int>(0, 5)) {
      case 0: {  // exec map: raqib_proc, and its exe path from the strings map
        auto rec = std::make_unique<raqib_proc>(consumeStruct<raqib_proc>(in));
        const std::string *exe = strings(rec->exe_hash);
        table.apply(*rec, exe ? *exe : std::string());
        print(raqib::RecordSnapshot::exec(table, rec->tgid, raqib::decodeExec(*rec, kBootToUnixNs),
                                          kBootToUnixNs));
        break;
      }
      case 1: {  // file map
        auto key = consumeStruct<raqib_file_key>(in);
        auto value = consumeStruct<raqib_file_value>(in);
        print(raqib::RecordSnapshot::file(
            table, key.tgid, raqib::decodeFile(key, value, strings, kBootToUnixNs), kBootToUnixNs));
        break;
      }
      case 2: {  // ring buffer: one sample of any size
        // Exactly the sample's bytes (new[] aligns them as libbpf does), so
        // AddressSanitizer sees any read past its end.
        std::vector<uint8_t> sample = in.ConsumeBytes<uint8_t>(
            in.ConsumeIntegralInRange<size_t>(0, sizeof(raqib_file_event)));
        if (const raqib_file_event *e = raqib::fileEventIn(sample.data(), sample.size()))
          print(raqib::RecordSnapshot::file(table, e->key.tgid,
                                            raqib::decodeFileEvent(*e, strings, kBootToUnixNs),
                                            kBootToUnixNs));
        break;
      }
      case 3: {  // DNS map and the question's name in wire format
        auto key = consumeStruct<raqib_dns_key>(in);
        auto value = consumeStruct<raqib_dns_value>(in);
        print(raqib::RecordSnapshot::dns(
            table, key.tgid, raqib::decodeDns(key, value, strings(key.name_hash), kBootToUnixNs),
            kBootToUnixNs));
        break;
      }
      case 4: {  // peers map
        auto key = consumeStruct<raqib_peer_key>(in);
        auto value = consumeStruct<raqib_peer_value>(in);
        print(raqib::RecordSnapshot::flow(
            table, key.tgid, raqib::decodePeer(key, value, kBootToUnixNs), kBootToUnixNs));
        break;
      }
      case 5: {  // flows map
        auto key = consumeStruct<raqib_flow_key>(in);
        auto value = consumeStruct<raqib_flow_value>(in);
        print(raqib::RecordSnapshot::flow(
            table, value.tgid, raqib::decodeFlow(key, value, kBootToUnixNs), kBootToUnixNs));
        break;
      }
    }
  }
  return 0;
}
