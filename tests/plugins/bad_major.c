/* A plugin built for a plugin API major version this raqib does not have.
 * The host must refuse it before calling anything: init aborts if called. */
#include <stdlib.h>

#include <raqib/plugin_api.h>

static void *init(const raqib_host_api *host, char *err, size_t err_len) {
  (void)host, (void)err, (void)err_len;
  abort();
}
static void destroy(void *state) { (void)state; }
static int on_record(void *state, const raqib_record *record) {
  (void)state, (void)record;
  return 0;
}
static const char *last_error(void *state) {
  (void)state;
  return "";
}

__attribute__((visibility("default"))) const uint32_t raqib_plugin_api_version[3] = {
    RAQIB_PLUGIN_API_VERSION_MAJOR + 99, 0, 0};

__attribute__((visibility("default"))) const raqib_plugin_descriptor raqib_plugin = {
    .struct_size = sizeof(raqib_plugin_descriptor),
    .api_major = RAQIB_PLUGIN_API_VERSION_MAJOR + 99,
    .api_minor = 0,
    .api_patch = 0,
    .kind = RAQIB_PLUGIN_DETECTOR,
    .name = "badmajor",
    .version = "1.0.0",
    .description = "built for another major version of the plugin API",
    .subscriptions = RAQIB_RECORD_FILE,
    .resources = 0,
    .init = init,
    .destroy = destroy,
    .on_record = on_record,
    .on_output = NULL,
    .last_error = last_error,
};
