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
static_assert(sizeof(raqib_file_key) == 32);
static_assert(offsetof(raqib_file_key, other_hash) == 8);
static_assert(offsetof(raqib_file_key, tgid) == 16);
static_assert(offsetof(raqib_file_key, error) == 24);
static_assert(offsetof(raqib_file_key, path_flags) == 28);
static_assert(sizeof(raqib_file_value) == 24);
static_assert(sizeof(raqib_string) == 8 + RAQIB_PATH_MAX + 8);
static_assert(sizeof(raqib_map_counters) == 24);

// The kernel's file action bits are handed to plugins unchanged.
#define SAME_BIT(name) static_assert(unsigned(RAQIB_FILE_##name) == unsigned(RAQIB_ACTION_##name))
SAME_BIT(OPEN);
SAME_BIT(READ);
SAME_BIT(WRITE);
SAME_BIT(CREATE);
SAME_BIT(TRUNCATE);
SAME_BIT(UNLINK);
SAME_BIT(RENAME);
SAME_BIT(LINK);
SAME_BIT(SYMLINK);
SAME_BIT(CHMOD);
SAME_BIT(CHOWN);
SAME_BIT(SETCAP);
SAME_BIT(MMAP_EXEC);
SAME_BIT(EXEC);
