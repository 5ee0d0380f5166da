// The BPF object and the core must agree on every shared layout
// (bpf/include/raqib/records.h); tests/unit/test_layout.cpp also compares
// these with the BTF of the built object.
#include <cstddef>

#include <raqib/plugin_api.h>

#include "raqib/records.h"

static_assert(sizeof(raqib_rec_header) == 8);
static_assert(sizeof(raqib_proc) == 96 + RAQIB_COMM_LEN + RAQIB_ARGS_MAX);
static_assert(offsetof(raqib_proc, tgid) == 8);
static_assert(offsetof(raqib_proc, start_ns) == 32);
static_assert(offsetof(raqib_proc, exe_hash) == 64);
static_assert(offsetof(raqib_proc, flags) == 72);
static_assert(offsetof(raqib_proc, mnt_ns) == 80);
static_assert(offsetof(raqib_proc, comm) == 96);
static_assert(offsetof(raqib_proc, args) == 96 + RAQIB_COMM_LEN);
static_assert(sizeof(raqib_file_key) == 24);
static_assert(offsetof(raqib_file_key, tgid) == 8);
static_assert(offsetof(raqib_file_key, error) == 16);
static_assert(sizeof(raqib_file_value) == 24);
static_assert(sizeof(raqib_string) == 8 + RAQIB_PATH_MAX + 8);
static_assert(sizeof(raqib_map_counters) == 24);

// The kernel's file action bits are handed to plugins unchanged.
static_assert(RAQIB_FILE_OPEN == RAQIB_ACTION_OPEN);
static_assert(RAQIB_FILE_READ == RAQIB_ACTION_READ);
static_assert(RAQIB_FILE_WRITE == RAQIB_ACTION_WRITE);
static_assert(RAQIB_FILE_CREATE == RAQIB_ACTION_CREATE);
static_assert(RAQIB_FILE_TRUNCATE == RAQIB_ACTION_TRUNCATE);
