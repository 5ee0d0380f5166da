/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The path names a file syscall passes, read once at its entry, before the
 * kernel reads them, and kept until its exit: a thread rewriting them while
 * the syscall runs does not change what is recorded. Included from
 * raqib.bpf.c, whose syscall_enter/syscall_exit use it.
 *
 * Where a name is kept is a matter of cost (docs/benchmarks.md): the path
 * name, when shorter than RAQIB_NAME_INLINE, in the task's own syscall_args
 * (allocated once per task, so an open pays for one string read and
 * nothing else); a longer one, and the other name of a rename, link,
 * symlink or mount, in syscall_names, allocated at the entry and deleted at
 * the exit. */
#ifndef RAQIB_SYSCALL_NAMES_BPF_H
#define RAQIB_SYSCALL_NAMES_BPF_H

struct raqib_name_key {
  __u32 tid;
  __u32 which; /* 0: the path; 1: the other path (rename, link) or a text (symlink, mount) */
};

/* syscall_names: names too long for syscall_args, and the other names, from
 * the entry that copies them to the exit that deletes them, so no memory is
 * held between syscalls (entries are allocated, not preallocated). Bound:
 * 8192 names at once; a name refused (full, or no memory) is counted as
 * `no_room` and read at the exit instead. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __uint(max_entries, 8192);
  __type(key, struct raqib_name_key);
  __type(value, struct raqib_string);
} syscall_names SEC(".maps");

/* name_scratch: per-CPU room for a name read from user memory. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct raqib_string);
} name_scratch SEC(".maps");

/* raqib_syscall_args.kept: where the entry kept each name. */
enum raqib_kept {
  RAQIB_KEPT_INLINE = 1u << 0, /* the path name, in syscall_args.name_copy */
  RAQIB_KEPT_MAP = 1u << 1,    /* name `which` in syscall_names: this bit << which */
  RAQIB_KEPT_AT_EXIT = 1u << 3, /* kept, but at the exit (a compat syscall has no entry program) */
};

/* User memory an entry could not read (not paged in yet: a BPF program
 * cannot fault it in) is read at the exit instead; counted as `unreadable`
 * (the capped counter of RAQIB_MAP_SYSCALL_NAMES). */
static __always_inline void count_unreadable(void) {
  count_capped(RAQIB_MAP_SYSCALL_NAMES);
}

/* How many names a syscall whose path is found by resolve passes. */
static __always_inline __u32 passed_names(__u32 resolve) {
  if (resolve == RAQIB_RESOLVE_FD) return 0;
  return resolve == RAQIB_RESOLVE_AT_AT || resolve == RAQIB_RESOLVE_AT_TEXT ? 2 : 1;
}

static __always_inline struct raqib_name_key name_key(__u32 which) {
  struct raqib_name_key key = {.tid = (__u32)bpf_get_current_pid_tgid(), .which = which};
  return key;
}

static __always_inline struct raqib_string *get_name_scratch(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&name_scratch, &zero);
}

/* The string at user into s (empty when it cannot be read); false when it
 * cannot be read. */
static __always_inline bool read_name(__u64 user, struct raqib_string *s) {
  long n = bpf_probe_read_user_str(s->str, RAQIB_PATH_MAX, (void *)user);
  s->len = n > 0 ? n - 1 : 0;
  if (n <= 0) s->str[0] = 0;
  return n > 0;
}

/* At the entry: keep name `which`, at user, for the exit, and note where
 * in a->kept. */
static __always_inline void keep_name(struct raqib_syscall_args *a, __u32 which, __u64 user) {
  if (!user) return; /* none passed (mount's source may be NULL) */
  if (which == 0) {
    long n = bpf_probe_read_user_str(a->name_copy, sizeof(a->name_copy), (void *)user);
    /* n == sizeof: cut short, or exactly as long; the map takes it whole */
    if (n > 0 && n < sizeof(a->name_copy)) {
      a->kept |= RAQIB_KEPT_INLINE;
      return;
    }
  }
  struct raqib_name_key key = name_key(which);
  struct raqib_string *s = get_name_scratch();
  if (!s) return;
  if (!read_name(user, s))
    count_unreadable();
  else if (bpf_map_update_elem(&syscall_names, &key, s, BPF_ANY) == 0)
    a->kept |= RAQIB_KEPT_MAP << which;
  else
    count_map(RAQIB_MAP_SYSCALL_NAMES, RAQIB_CNT_FAILED);
}

/* At the exit: name `which` as its entry kept it, or, when it could not,
 * as user memory holds it now (empty when unreadable). When it was read at
 * an exit, RAQIB_STR_READ_AT_EXIT is added to *flags: the record says its
 * name may not be the one the kernel used. */
static __always_inline const char *passed_name(const struct raqib_syscall_args *a, __u32 which,
                                               __u64 user, __u16 *flags) {
  if (user && (a->kept & RAQIB_KEPT_AT_EXIT)) *flags |= RAQIB_STR_READ_AT_EXIT;
  if (which == 0 && (a->kept & RAQIB_KEPT_INLINE)) return a->name_copy;
  struct raqib_string *s = NULL;
  if (a->kept & (RAQIB_KEPT_MAP << which)) {
    struct raqib_name_key key = name_key(which);
    s = bpf_map_lookup_elem(&syscall_names, &key);
  }
  if (!s) {
    s = get_name_scratch();
    if (!s) return NULL;
    read_name(user, s);
    if (user) *flags |= RAQIB_STR_READ_AT_EXIT;
  }
  return s->str;
}

/* At the exit, after the last use of its names: free those in the map. */
static __always_inline void forget_names(const struct raqib_syscall_args *a) {
  for (__u32 which = 0; which < 2; which++) {
    if (!(a->kept & (RAQIB_KEPT_MAP << which))) continue;
    struct raqib_name_key key = name_key(which);
    bpf_map_delete_elem(&syscall_names, &key);
  }
}

#endif /* RAQIB_SYSCALL_NAMES_BPF_H */
