/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The other entries to the file actions of raqib.bpf.c: the 32-bit (ia32)
 * syscall ABI, io_uring file operations and open_by_handle_at. Each hands
 * its arguments to the code the native syscalls use (syscall_enter and
 * syscall_exit, or file_action_record for io_uring), so every entry lands in
 * the same records. Included from raqib.bpf.c after the native syscall
 * programs. */
#ifndef RAQIB_ABI_BPF_H
#define RAQIB_ABI_BPF_H

/* ---- open_by_handle_at ------------------------------------------------ */

/* No name: the path is that of the fd returned (a failure records nothing,
 * there is no name to record). */
RAQIB_FILE_SYSCALL(open_by_handle_at,
                   syscall_enter(RAQIB_RESOLVE_OPENED, 0, ctx->args[0], 0, 0, 0, ctx->args[2]))

/* ---- the ia32 ABI ------------------------------------------------------ */

/* The per-syscall tracepoints skip compat syscalls (a 64-bit process may use
 * `int $0x80` too), so raw sys_exit takes them: one program that runs on
 * every syscall of the machine, where a native one returns after one load
 * of the task's thread_info.status (x86-64 sets TS_COMPAT there from a
 * 32-bit syscall's entry until the return to user mode, after sys_exit).
 * There is no entry program: the exit reads the syscall's number and
 * arguments from the registers it was entered with, then takes the path of
 * a native syscall's entry and exit at once. A raw sys_enter program too
 * would cost a second program run on every syscall; the price of not
 * having one is that a compat syscall's names are read at its exit (an
 * open's path is the fd's, which is not affected). */
#define RAQIB_TS_COMPAT 0x0002

static __always_inline bool in_compat_syscall(void) {
  struct task_struct *task = bpf_get_current_task_btf();
  return task->thread_info.status & RAQIB_TS_COMPAT;
}

/* ia32 syscall numbers (arch/x86/entry/syscalls/syscall_32.tbl). */
enum raqib_ia32_nr {
  IA32_OPEN = 5,
  IA32_CREAT = 8,
  IA32_LINK = 9,
  IA32_UNLINK = 10,
  IA32_CHMOD = 15,
  IA32_LCHOWN16 = 16,
  IA32_MOUNT = 21,
  IA32_UMOUNT = 22,
  IA32_RENAME = 38,
  IA32_RMDIR = 40,
  IA32_UMOUNT2 = 52,
  IA32_SYMLINK = 83,
  IA32_OLD_MMAP = 90,
  IA32_TRUNCATE = 92,
  IA32_FTRUNCATE = 93,
  IA32_FCHMOD = 94,
  IA32_FCHOWN16 = 95,
  IA32_CHOWN16 = 182,
  IA32_MMAP2 = 192,
  IA32_TRUNCATE64 = 193,
  IA32_FTRUNCATE64 = 194,
  IA32_LCHOWN = 198,
  IA32_FCHOWN = 207,
  IA32_CHOWN = 212,
  IA32_PIVOT_ROOT = 217,
  IA32_SETXATTR = 226,
  IA32_LSETXATTR = 227,
  IA32_FSETXATTR = 228,
  IA32_OPENAT = 295,
  IA32_UNSHARE = 310,
  IA32_SETNS = 346,
  IA32_FCHOWNAT = 298,
  IA32_UNLINKAT = 301,
  IA32_RENAMEAT = 302,
  IA32_LINKAT = 303,
  IA32_SYMLINKAT = 304,
  IA32_FCHMODAT = 306,
  IA32_OPEN_BY_HANDLE_AT = 342,
  IA32_RENAMEAT2 = 353,
  IA32_MOVE_MOUNT = 429,
  IA32_OPENAT2 = 437,
  IA32_FCHMODAT2 = 452,
  IA32_SETXATTRAT = 463,
};

/* struct mmap_arg_struct32, old_mmap's single argument. */
struct raqib_ia32_mmap_args {
  __u32 addr, len, prot, flags, fd, offset;
};

static __always_inline void compat_mmap(__u32 prot, __u32 flags, __s32 fd) {
  if ((prot & 4) && !(flags & 0x20) && fd >= 0) /* PROT_EXEC, not MAP_ANONYMOUS */
    syscall_enter(RAQIB_RESOLVE_FD, RAQIB_FILE_MMAP_EXEC, fd, 0, 0, 0, 0);
}

/* The entry of ia32 syscall id: its arguments are 32 bits in ebx, ecx, edx,
 * esi, edi; an fd or a dfd is signed. The same resolve and actions as the
 * native programs. */
static __always_inline void compat_enter(struct pt_regs *regs, long id) {
  __u64 a0 = (__u32)regs->bx, a1 = (__u32)regs->cx, a2 = (__u32)regs->dx;
  __u64 a3 = (__u32)regs->si, a4 = (__u32)regs->di;
  __s32 d0 = (__s32)a0, d2 = (__s32)a2;
  switch (id) {
    case IA32_OPEN:
      syscall_enter(RAQIB_RESOLVE_OPENED, 0, CWD, a0, 0, 0, a1);
      break;
    case IA32_OPENAT:
      syscall_enter(RAQIB_RESOLVE_OPENED, 0, d0, a1, 0, 0, a2);
      break;
    case IA32_CREAT:
      syscall_enter(RAQIB_RESOLVE_OPENED, 0, CWD, a0, 0, 0, 01 | 0100 | 01000);
      break;
    case IA32_OPENAT2:
      syscall_enter(RAQIB_RESOLVE_OPENED, 0, d0, a1, 0, a2, 0);
      break;
    case IA32_OPEN_BY_HANDLE_AT:
      syscall_enter(RAQIB_RESOLVE_OPENED, 0, d0, 0, 0, 0, a2);
      break;
    case IA32_UNLINK:
    case IA32_RMDIR:
      syscall_enter(AT, RAQIB_FILE_UNLINK, CWD, a0, 0, 0, 0);
      break;
    case IA32_UNLINKAT:
      syscall_enter(AT, RAQIB_FILE_UNLINK, d0, a1, 0, 0, 0);
      break;
    case IA32_RENAME:
      syscall_enter(RAQIB_RESOLVE_AT_AT, RAQIB_FILE_RENAME, CWD, a0, CWD, a1, 0);
      break;
    case IA32_RENAMEAT:
    case IA32_RENAMEAT2:
      syscall_enter(RAQIB_RESOLVE_AT_AT, RAQIB_FILE_RENAME, d0, a1, d2, a3, 0);
      break;
    case IA32_LINK:
      syscall_enter(RAQIB_RESOLVE_AT_AT, RAQIB_FILE_LINK, CWD, a1, CWD, a0, 0);
      break;
    case IA32_LINKAT:
      syscall_enter(RAQIB_RESOLVE_AT_AT, RAQIB_FILE_LINK, d2, a3, d0, a1, 0);
      break;
    case IA32_SYMLINK:
      syscall_enter(RAQIB_RESOLVE_AT_TEXT, RAQIB_FILE_SYMLINK, CWD, a1, 0, a0, 0);
      break;
    case IA32_SYMLINKAT:
      syscall_enter(RAQIB_RESOLVE_AT_TEXT, RAQIB_FILE_SYMLINK, (__s32)a1, a2, 0, a0, 0);
      break;
    case IA32_CHMOD:
      syscall_enter(AT, RAQIB_FILE_CHMOD, CWD, a0, 0, 0, 0);
      break;
    case IA32_FCHMOD:
      syscall_enter(RAQIB_RESOLVE_FD, RAQIB_FILE_CHMOD, d0, 0, 0, 0, 0);
      break;
    case IA32_FCHMODAT:
    case IA32_FCHMODAT2:
      syscall_enter(AT, RAQIB_FILE_CHMOD, d0, a1, 0, 0, 0);
      break;
    case IA32_CHOWN16:
    case IA32_CHOWN:
    case IA32_LCHOWN16:
    case IA32_LCHOWN:
      syscall_enter(AT, RAQIB_FILE_CHOWN, CWD, a0, 0, 0, 0);
      break;
    case IA32_FCHOWN16:
    case IA32_FCHOWN:
      syscall_enter(RAQIB_RESOLVE_FD, RAQIB_FILE_CHOWN, d0, 0, 0, 0, 0);
      break;
    case IA32_FCHOWNAT:
      syscall_enter(AT, RAQIB_FILE_CHOWN, d0, a1, 0, 0, 0);
      break;
    case IA32_TRUNCATE:
    case IA32_TRUNCATE64:
      syscall_enter(AT, RAQIB_FILE_TRUNCATE, CWD, a0, 0, 0, 0);
      break;
    case IA32_FTRUNCATE:
    case IA32_FTRUNCATE64:
      syscall_enter(RAQIB_RESOLVE_FD, RAQIB_FILE_TRUNCATE, d0, 0, 0, 0, 0);
      break;
    case IA32_SETXATTR:
    case IA32_LSETXATTR:
      syscall_enter(AT, RAQIB_FILE_SETCAP, CWD, a0, 0, a1, 0);
      break;
    case IA32_FSETXATTR:
      syscall_enter(RAQIB_RESOLVE_FD, RAQIB_FILE_SETCAP, d0, 0, 0, a1, 0);
      break;
    case IA32_SETXATTRAT: /* (dfd, path, at_flags, name, args, size) */
      syscall_enter(AT, RAQIB_FILE_SETCAP, d0, a1, 0, a3, 0);
      break;
    case IA32_MOUNT:
      syscall_enter(RAQIB_RESOLVE_AT_TEXT, MOUNT, CWD, a1, 0, a0, 0);
      break;
    case IA32_UMOUNT:
    case IA32_UMOUNT2:
      syscall_enter(AT, RAQIB_FILE_UMOUNT, CWD, a0, 0, 0, 0);
      break;
    case IA32_MOVE_MOUNT:
      syscall_enter(RAQIB_RESOLVE_AT_AT, MOUNT, d2, a3, d0, a1, 0);
      break;
    case IA32_PIVOT_ROOT:
      syscall_enter(RAQIB_RESOLVE_AT_AT, MOUNT, CWD, a0, CWD, a1, 0);
      break;
    case IA32_MMAP2:
      compat_mmap(a2, a3, (__s32)a4);
      break;
    case IA32_OLD_MMAP: {
      struct raqib_ia32_mmap_args m = {};
      if (bpf_probe_read_user(&m, sizeof(m), (void *)a0) == 0)
        compat_mmap(m.prot, m.flags, (__s32)m.fd);
      break;
    }
  }
}

/* tamper.bpf.h: count one move of the current process. */
static __always_inline struct raqib_tamper_value *record_tamper(__u32 move, __u32 detail,
                                                                __u32 object_type, __u32 object_id,
                                                                __u32 attach_type,
                                                                const char *name);

/* tamper.bpf.h: module loads, and the calls that name the daemon's process
 * by a number of the caller's (ptrace, process_vm_*, pidfd_getfd); true
 * when id was one of them. */
static __always_inline bool tamper_syscall_exit(bool compat, long id, __u64 a0, __u64 a1, long ret);

SEC("tp_btf/sys_exit")
int BPF_PROG(raqib_compat_exit, struct pt_regs *regs, long ret) {
  long id = regs->orig_ax;
  /* Module loads, ptrace, process_vm_* and pidfd_getfd are seen here, on
   * every syscall's exit (tamper.bpf.h says why). */
  if (!in_compat_syscall()) {
    tamper_syscall_exit(false, id, regs->di, regs->si, ret); /* x86-64 */
    return 0;
  }
  if (tamper_syscall_exit(true, id, (__u32)regs->bx, (__u32)regs->cx, ret)) return 0;
  if (id == IA32_UNSHARE || id == IA32_SETNS) {
    if (ret == 0) record_ns_change(id == IA32_UNSHARE ? RAQIB_PROC_UNSHARED : RAQIB_PROC_SETNS);
    return 0;
  }
  compat_enter(regs, id);
  syscall_exit(ret, true);
  return 0;
}

/* ---- io_uring ------------------------------------------------------------ */

/* An io_uring file operation is no syscall. Each is taken twice: when it is
 * submitted (tp_btf/io_uring_submit_req, in the submitting thread, after
 * the operation's prep has copied its names into the kernel: struct
 * filename, read once from user memory) and when it completes
 * (tp_btf/io_uring_complete, with its result, in a thread of the process
 * that owns the ring: the submitter, its io-wq worker or its SQPOLL thread,
 * which all share its file table and working directory). The submission
 * keeps the request's arguments as a syscall's entry does, with copies of
 * its names, under the request's address; the completion records the action
 * as the syscall's exit does (file_action_record) and forgets them.
 *
 * The operations and the actions recorded, as their syscalls:
 * OPENAT/OPENAT2 (open; the fd's path, or the name as passed when the open
 * failed; an open into a fixed-file slot installs no fd: the path of the
 * file in the slot), UNLINKAT (unlink, rmdir), RENAMEAT, LINKAT, SYMLINKAT,
 * SETXATTR/FSETXATTR of security.capability (setcap) and FTRUNCATE
 * (truncate). MKDIRAT is no action raqib records on any entry. */
#define RAQIB_URING_REQUESTS 1024

/* A request submitted and not completed yet: its arguments as a syscall's
 * entry keeps them (no user memory pointer: the names are copies), and its
 * names. */
struct raqib_uring_request {
  struct raqib_syscall_args a;
  struct raqib_kernel_names names;
  __u32 opcode;    /* a request reused for another operation is not this one */
  __u32 file_slot; /* an open into a fixed-file slot: io_open.file_slot */
};

/* uring_requests: the request's address -> its arguments, from submission
 * to completion. A hash, not an LRU: a flood of requests in flight (linked
 * behind a timeout, or blocked in io-wq) evicted a watched request's entry
 * before it completed, and the act went unrecorded. A request that finds
 * no room is recorded at its submission instead, as done, and counted
 * (capped of RAQIB_MAP_URING_REQUESTS): its result is not known then, but
 * it is not lost. Requests whose success posts no completion are not kept
 * (recorded at submission), and every other one leaves through its
 * completion or its overflow, so nothing stays behind. Preallocated:
 * 1024 x 2.4 KiB. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, RAQIB_URING_REQUESTS);
  __type(key, __u64);
  __type(value, struct raqib_uring_request);
} uring_requests SEC(".maps");

/* A completion the completion queue had no room for goes to the ring's
 * overflow list, and tp_btf/io_uring_cqe_overflow names it by its ring and
 * user_data only, not by its request: io_uring_complete never runs for it.
 * A process that left its completion queue full hid its opens so. This map
 * finds the request: (ring, user_data) -> the request's address. user_data
 * is the submitter's to choose, so a second request in flight with the
 * same pair is recorded at its submission (capped), and the first is
 * marked ambiguous: an overflow of the pair records it as done, since
 * either may have been the one that completed. */
struct raqib_uring_user {
  __u64 ring;
  __u64 user_data;
};
struct raqib_uring_req_ref {
  __u64 req;
  __u32 ambiguous;
  __u32 pad;
};
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, RAQIB_URING_REQUESTS);
  __type(key, struct raqib_uring_user);
  __type(value, struct raqib_uring_req_ref);
} uring_users SEC(".maps");

/* uring_scratch: per-CPU room to build a request's entry in. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct raqib_uring_request);
} uring_scratch SEC(".maps");

/* A file operation's name: the kernel's copy in fn, into to. */
static __always_inline void uring_name(char *to, struct filename *fn) {
  if (bpf_probe_read_kernel_str(to, RAQIB_PATH_MAX, BPF_CORE_READ(fn, name)) <= 0) to[0] = 0;
}

/* The xattr request x sets security.capability (the name is the kernel's
 * copy). */
static __always_inline bool uring_setcap(struct io_xattr *x) {
  return capability_xattr_in((__u64)BPF_CORE_READ(x, ctx.kname), false) == 1;
}

/* Fill u from the request r of opcode op as a syscall's entry would; false
 * when r is no file action raqib records. */
static __always_inline bool uring_args(struct io_kiocb *r, __u8 op, struct raqib_uring_request *u) {
  struct raqib_syscall_args *a = &u->a;
  void *cmd = &r->cmd;
  switch (op) {
    case IORING_OP_OPENAT:
    case IORING_OP_OPENAT2: {
      struct io_open *o = cmd;
      a->flags = BPF_CORE_READ(o, how.flags);
      a->dfd = BPF_CORE_READ(o, dfd);
      a->resolve = RAQIB_RESOLVE_OPENED;
      u->file_slot = BPF_CORE_READ(o, file_slot);
      uring_name(u->names.name[0], BPF_CORE_READ(o, filename));
      return true;
    }
    case IORING_OP_UNLINKAT: {
      struct io_unlink *un = cmd;
      a->resolve = RAQIB_RESOLVE_AT;
      a->actions = RAQIB_FILE_UNLINK;
      a->dfd = BPF_CORE_READ(un, dfd);
      uring_name(u->names.name[0], BPF_CORE_READ(un, filename));
      return true;
    }
    case IORING_OP_RENAMEAT: {
      struct io_rename *rn = cmd;
      a->resolve = RAQIB_RESOLVE_AT_AT;
      a->actions = RAQIB_FILE_RENAME;
      a->dfd = BPF_CORE_READ(rn, old_dfd);
      a->dfd2 = BPF_CORE_READ(rn, new_dfd);
      uring_name(u->names.name[0], BPF_CORE_READ(rn, oldpath));
      uring_name(u->names.name[1], BPF_CORE_READ(rn, newpath));
      return true;
    }
    case IORING_OP_LINKAT: { /* the new name; the other path is the file linked to */
      struct io_link *ln = cmd;
      a->resolve = RAQIB_RESOLVE_AT_AT;
      a->actions = RAQIB_FILE_LINK;
      a->dfd = BPF_CORE_READ(ln, new_dfd);
      a->dfd2 = BPF_CORE_READ(ln, old_dfd);
      uring_name(u->names.name[0], BPF_CORE_READ(ln, newpath));
      uring_name(u->names.name[1], BPF_CORE_READ(ln, oldpath));
      return true;
    }
    case IORING_OP_SYMLINKAT: { /* oldpath: the symlink's text */
      struct io_link *ln = cmd;
      a->resolve = RAQIB_RESOLVE_AT_TEXT;
      a->actions = RAQIB_FILE_SYMLINK;
      a->dfd = BPF_CORE_READ(ln, new_dfd);
      uring_name(u->names.name[0], BPF_CORE_READ(ln, newpath));
      uring_name(u->names.name[1], BPF_CORE_READ(ln, oldpath));
      return true;
    }
    case IORING_OP_SETXATTR: { /* a path, looked up from the working directory */
      struct io_xattr *x = cmd;
      if (!uring_setcap(x)) return false;
      a->resolve = RAQIB_RESOLVE_AT;
      a->actions = RAQIB_FILE_SETCAP;
      a->dfd = RAQIB_AT_FDCWD;
      uring_name(u->names.name[0], BPF_CORE_READ(x, filename));
      return true;
    }
    case IORING_OP_FSETXATTR: /* dfd -1: the request's file, not an fd of the table */
      if (!uring_setcap(cmd)) return false;
      a->resolve = RAQIB_RESOLVE_FD;
      a->actions = RAQIB_FILE_SETCAP;
      a->dfd = -1;
      return true;
    case IORING_OP_FTRUNCATE:
      a->resolve = RAQIB_RESOLVE_FD;
      a->actions = RAQIB_FILE_TRUNCATE;
      a->dfd = -1;
      return true;
  }
  return false;
}

/* op may be a file action raqib records (the cheap test first: most
 * requests are reads, writes and polls). An xattr request is one only for
 * security.capability, which uring_args tells. */
static __always_inline bool uring_file_op(__u8 op) {
  return op == IORING_OP_OPENAT || op == IORING_OP_OPENAT2 || op == IORING_OP_FTRUNCATE ||
         (op >= IORING_OP_RENAMEAT && op <= IORING_OP_SETXATTR && op != IORING_OP_MKDIRAT &&
          op != IORING_OP_MSG_RING);
}

#define RAQIB_FILE_INDEX_ALLOC (~0U) /* io_uring.h: the kernel picks the slot */
#define RAQIB_FFS_MASK (~3UL)        /* io_uring/filetable.h: flags in file_ptr's low bits */

/* The file in slot idx of req's ring's fixed-file table, or NULL. */
static __always_inline struct file *uring_fixed_file(struct io_kiocb *req, __u32 idx) {
  struct io_ring_ctx *ring = BPF_CORE_READ(req, ctx);
  if (idx >= BPF_CORE_READ(ring, file_table.data.nr)) return NULL;
  struct io_rsrc_node **nodes = BPF_CORE_READ(ring, file_table.data.nodes);
  struct io_rsrc_node *node = NULL;
  bpf_probe_read_kernel(&node, sizeof(node), &nodes[idx]);
  if (!node) return NULL;
  return (struct file *)(BPF_CORE_READ(node, file_ptr) & RAQIB_FFS_MASK);
}

/* The file req acts on or opened, when no fd names it (NULL when an fd
 * does): an fd operation's file, or the one an open installed in a fixed
 * slot (res: the slot the kernel picked, when asked to). At a completion,
 * after the request got its file; at a submission, before (a fixed file's
 * slot is its fd then). */
static __always_inline struct file *uring_file(struct io_kiocb *req,
                                               const struct raqib_uring_request *u, long res,
                                               bool submitted) {
  if (u->a.resolve == RAQIB_RESOLVE_FD) {
    if (!submitted) return BPF_CORE_READ(req, file);
    if (!(req->flags & REQ_F_FIXED_FILE)) return NULL; /* an fd: req->cqe.fd */
    return uring_fixed_file(req, req->cqe.fd);
  }
  if (!u->file_slot || res < 0) return NULL;
  return uring_fixed_file(req, u->file_slot == RAQIB_FILE_INDEX_ALLOC ? res : u->file_slot - 1);
}

static __always_inline struct raqib_uring_request *get_uring_scratch(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&uring_scratch, &zero);
}

/* An open with no fd to take its path from: recorded by its name joined to
 * its directory, as an unlink's. */
static __always_inline void uring_open_by_name(struct raqib_syscall_args *a) {
  a->resolve = RAQIB_RESOLVE_AT;
  a->actions = open_actions(a->flags);
}

/* A request recorded at its submission, as done (the result unknown yet):
 * an open by its name in its directory (no file yet), an fd operation by
 * its fd or fixed file. So are requests submitted with
 * IOSQE_CQE_SKIP_SUCCESS, whose success posts no completion (a failure
 * clears the skip and completes: it finds no entry and is not recorded
 * again), and requests uring_requests has no room for or whose (ring,
 * user_data) another request in flight holds. */
static __always_inline void uring_record_submitted(struct io_kiocb *req,
                                                   struct raqib_uring_request *u) {
  struct raqib_syscall_args *a = &u->a;
  struct file *file = NULL;
  if (a->resolve == RAQIB_RESOLVE_OPENED) {
    uring_open_by_name(a);
  } else if (a->resolve == RAQIB_RESOLVE_FD) {
    file = uring_file(req, u, 0, true); /* a fixed file's */
    if (!(req->flags & REQ_F_FIXED_FILE)) a->dfd = req->cqe.fd;
  }
  file_action_record(bpf_get_current_task_btf(), a, &u->names, file, 0);
}

/* Keep u for req's completion; false when it must be recorded now (no
 * room, or its (ring, user_data) taken by another request in flight). */
static __always_inline bool uring_keep(struct io_kiocb *req, __u64 key,
                                       struct raqib_uring_request *u) {
  if (bpf_map_update_elem(&uring_requests, &key, u, BPF_ANY) != 0) return false;
  struct raqib_uring_user user = {.ring = (__u64)req->ctx, .user_data = req->cqe.user_data};
  struct raqib_uring_req_ref ref = {.req = key};
  if (bpf_map_update_elem(&uring_users, &user, &ref, BPF_NOEXIST) == 0) return true;
  struct raqib_uring_req_ref *held = bpf_map_lookup_elem(&uring_users, &user);
  if (held && held->req != key) {
    held->ambiguous = 1;
  } else if (held) { /* a stale pair of this very request: its own again */
    held->ambiguous = 0;
    return true;
  }
  bpf_map_delete_elem(&uring_requests, &key);
  return false;
}

/* Record the request req with its result res when known, else as done, as
 * at a submission (an open by its name). */
static __always_inline void uring_record_completed(struct io_kiocb *req,
                                                   struct raqib_uring_request *u, bool known,
                                                   long res) {
  if (!known) res = 0;
  struct file *file = NULL;
  if (known || u->a.resolve == RAQIB_RESOLVE_FD) file = uring_file(req, u, res, false);
  /* An open whose result is not known, or into a fixed slot (which installs
   * no fd) whose file is not found: by its name. */
  if (u->a.resolve == RAQIB_RESOLVE_OPENED && (!known || (u->file_slot && res >= 0 && !file)))
    uring_open_by_name(&u->a);
  file_action_record(bpf_get_current_task_btf(), &u->a, &u->names, file, res);
}

/* Forget the kept request at address key (ring and user_data: its pair in
 * uring_users). */
static __always_inline void uring_forget(__u64 key, __u64 ring, __u64 user_data) {
  bpf_map_delete_elem(&uring_requests, &key);
  struct raqib_uring_user user = {.ring = ring, .user_data = user_data};
  struct raqib_uring_req_ref *ref = bpf_map_lookup_elem(&uring_users, &user);
  if (ref && ref->req == key) bpf_map_delete_elem(&uring_users, &user);
}

/* An open submitted with IOSQE_CQE_SKIP_SUCCESS: no completion will name
 * the file it opens, only its name is known, which through a symlink is
 * the link's. No ordinary program opens a file whose fd it never learns:
 * the move itself is reported. A global function, verified once on its
 * own: inlined, its states doubled the walks of the record after it past
 * the verifier's limit. */
__noinline int uring_report_unnamed_open(void) {
  record_tamper(RAQIB_TAMPER_URING_UNNAMED_OPEN, 0, 0, 0, 0, NULL);
  return 0;
}

SEC("tp_btf/io_uring_submit_req")
int BPF_PROG(raqib_uring_submit, struct io_kiocb *req) {
  if ((bpf_get_current_pid_tgid() >> 32) == self_tgid) return 0;
  __u8 op = req->opcode;
  if (!uring_file_op(op)) return 0;
  struct raqib_uring_request *u = get_uring_scratch();
  if (!u) return 0;
  __builtin_memset(&u->a, 0, sizeof(u->a));
  u->file_slot = 0;
  __u64 key = (__u64)req;
  if (!uring_args(req, op, u)) return 0; /* another attribute */
  u->opcode = op;
  if (!(req->flags & REQ_F_CQE_SKIP)) {
    if (uring_keep(req, key, u)) return 0;
    count_capped(RAQIB_MAP_URING_REQUESTS);
  } else if (u->a.resolve == RAQIB_RESOLVE_OPENED) {
    uring_report_unnamed_open();
  }
  uring_record_submitted(req, u);
  return 0;
}

/* A successful open that completed with no entry kept (recorded at its
 * submission by the name passed, which through a symlink is the link's, or
 * submitted before raqib started): its arguments, in scratch, to record it
 * again from the file it opened, so the watched file is named by its own
 * path and identity; NULL for anything else. */
static __always_inline struct raqib_uring_request *uring_unkept_open(struct io_kiocb *req, __u8 op,
                                                                     long res) {
  if ((op != IORING_OP_OPENAT && op != IORING_OP_OPENAT2) || res < 0) return NULL;
  struct raqib_uring_request *u = get_uring_scratch();
  if (!u) return NULL;
  struct io_open *o = (void *)&req->cmd;
  __builtin_memset(&u->a, 0, sizeof(u->a));
  u->a.flags = BPF_CORE_READ(o, how.flags);
  u->a.resolve = RAQIB_RESOLVE_OPENED;
  u->file_slot = BPF_CORE_READ(o, file_slot);
  if (u->file_slot && !uring_file(req, u, res, false)) return NULL; /* no name to fall back on */
  return u;
}

/* The completion: record the request's action with its result. */
SEC("tp_btf/io_uring_complete")
int BPF_PROG(raqib_uring_complete, struct io_ring_ctx *ring, void *req, struct io_uring_cqe *cqe) {
  if ((bpf_get_current_pid_tgid() >> 32) == self_tgid) return 0;
  __u64 key = (__u64)req;
  __u8 op = BPF_CORE_READ((struct io_kiocb *)req, opcode);
  if (!uring_file_op(op)) return 0;
  long res = cqe->res;
  struct raqib_uring_request *u = NULL;
  struct raqib_uring_request *kept = bpf_map_lookup_elem(&uring_requests, &key);
  if (kept) {
    /* Into scratch, so that both ways reach the record with the same
     * state: the verifier walks file_action_record once. */
    u = kept->opcode == op ? get_uring_scratch() : NULL; /* else left by an earlier request */
    if (u && bpf_probe_read_kernel(u, sizeof(*u), kept) != 0) u = NULL;
    uring_forget(key, (__u64)ring, cqe->user_data);
  } else {
    u = uring_unkept_open(req, op, res);
  }
  if (u) uring_record_completed(req, u, true, res);
  return 0;
}

/* A completion that went to the overflow list: its request by its (ring,
 * user_data), recorded with its result, or as done when the pair was
 * ambiguous. */
SEC("tp_btf/io_uring_cqe_overflow")
int BPF_PROG(raqib_uring_overflow, void *ring, __u64 user_data, __s32 res, __u32 cflags,
             void *ocqe) {
  if ((bpf_get_current_pid_tgid() >> 32) == self_tgid) return 0;
  struct raqib_uring_user user = {.ring = (__u64)ring, .user_data = user_data};
  struct raqib_uring_req_ref *ref = bpf_map_lookup_elem(&uring_users, &user);
  if (!ref) return 0;
  __u64 key = ref->req;
  bool known = !ref->ambiguous;
  struct raqib_uring_request *u = bpf_map_lookup_elem(&uring_requests, &key);
  if (u) uring_record_completed((struct io_kiocb *)key, u, known, res);
  uring_forget(key, (__u64)ring, user_data);
  return 0;
}

#endif /* RAQIB_ABI_BPF_H */
