// libFuzzer target: the checks of a loaded plugin's descriptor, on every
// field a plugin controls (numbers, strings, missing members).
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "plugin_loader.hpp"

namespace {

// Stand-ins for the plugin's functions: the checks only look at whether each is set.
void *fakeInit(const raqib_host_api *, char *, size_t) {
  return nullptr;
}
void fakeDestroy(void *) {}
int fakeOnRecord(void *, const raqib_record *) {
  return RAQIB_OK;
}
int fakeOnOutput(void *, const raqib_output *) {
  return RAQIB_OK;
}
const char *fakeLastError(void *) {
  return "";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FuzzedDataProvider in(data, size);
  raqib_plugin_descriptor d{};
  d.struct_size = in.ConsumeBool() ? sizeof d : in.ConsumeIntegral<uint32_t>();
  d.api_major = in.ConsumeIntegral<uint32_t>();
  d.api_minor = in.ConsumeIntegral<uint32_t>();
  d.api_patch = in.ConsumeIntegral<uint32_t>();
  d.kind = in.ConsumeIntegral<uint32_t>();
  d.subscriptions = in.ConsumeIntegral<uint32_t>();
  d.resources = in.ConsumeIntegral<uint32_t>();
  auto members = in.ConsumeIntegral<uint8_t>();  // which pointers are set
  std::string name = in.ConsumeRandomLengthString(64);
  std::string version = in.ConsumeRandomLengthString(32);
  std::string description = in.ConsumeRemainingBytesAsString();
  d.name = members & 1 ? name.c_str() : nullptr;
  d.version = members & 2 ? version.c_str() : nullptr;
  d.description = members & 4 ? description.c_str() : nullptr;
  d.init = members & 8 ? fakeInit : nullptr;
  d.destroy = members & 16 ? fakeDestroy : nullptr;
  d.on_record = members & 32 ? fakeOnRecord : nullptr;
  d.on_output = members & 64 ? fakeOnOutput : nullptr;
  d.last_error = members & 128 ? fakeLastError : nullptr;
  (void)raqib::descriptorProblem(d);
  (void)raqib::apiIncompatibility(d.api_major, d.api_minor, d.api_patch);
  return 0;
}
