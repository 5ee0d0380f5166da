/* A plugin whose descriptor is malformed: a detector that declares a
 * resource, and no on_record. Refused after dlopen, before any call; a static
 * constructor would run (dlopen runs them), so this one has none. */
#include <stdlib.h>

#include <raqib/plugin_api.h>

static void *init(const raqib_host_api *host, char *err, size_t err_len) {
  (void)host, (void)err, (void)err_len;
  abort();
}
static void destroy(void *state) { (void)state; }
static const char *last_error(void *state) {
  (void)state;
  return "";
}

RAQIB_PLUGIN_EXPORT_API_VERSION;

__attribute__((visibility("default"))) const raqib_plugin_descriptor raqib_plugin = {
    .struct_size = sizeof(raqib_plugin_descriptor),
    .api_major = RAQIB_PLUGIN_API_VERSION_MAJOR,
    .api_minor = RAQIB_PLUGIN_API_VERSION_MINOR,
    .api_patch = RAQIB_PLUGIN_API_VERSION_PATCH,
    .kind = RAQIB_PLUGIN_DETECTOR,
    .name = "malformed",
    .version = "1.0.0",
    .description = "a detector asking for stdout, without on_record",
    .subscriptions = RAQIB_RECORD_FILE,
    .resources = RAQIB_RESOURCE_STDOUT,
    .init = init,
    .destroy = destroy,
    .on_record = NULL,
    .on_output = NULL,
    .last_error = last_error,
};
