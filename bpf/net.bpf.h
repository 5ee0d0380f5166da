/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Network programs of raqib.bpf.c: peers (connects, accepts), flows (bytes,
 * packets and TCP state per 5-tuple) and DNS (questions and answers parsed
 * from port-53 UDP). The cgroup programs are attached by the core to the root
 * cgroup v2, so they see every socket of the machine.
 *
 * Which process a packet belongs to: cgroup_skb runs in softirq for most
 * packets, so the owner of a socket is kept by socket cookie in sock_owner,
 * set where the process is current: socket creation, connect, UDP sendmsg and
 * accept's syscall exit. */
#ifndef RAQIB_NET_BPF_H
#define RAQIB_NET_BPF_H

#include <bpf/bpf_endian.h>

#include "common.bpf.h"

#define RAQIB_AF_INET 2
#define RAQIB_AF_INET6 10
#define RAQIB_ETH_P_IP 0x0800
#define RAQIB_ETH_P_IPV6 0x86DD
#define RAQIB_DNS_PORT 53
#define RAQIB_EINPROGRESS 115
#define RAQIB_DNS_TYPE_A 1
#define RAQIB_DNS_TYPE_AAAA 28

/* ---- socket owners --------------------------------------------------- */

/* The socket's owner is the image current now (records name the image
 * that acted: an exec after a connect leaves the socket to the old image
 * until the new one uses it). */
static __always_inline void set_owner(__u64 cookie, const struct raqib_image *image) {
  if (!cookie || !image->tgid) return;
  struct raqib_sock_owner *o = bpf_map_lookup_elem(&sock_owner, &cookie);
  if (o && o->tgid == image->tgid && o->exec_seq == image->exec_seq &&
      o->start_ns == image->start_ns)
    return;
  struct raqib_sock_owner v = {
      .tgid = image->tgid, .exec_seq = image->exec_seq, .start_ns = image->start_ns};
  bpf_map_update_elem(&sock_owner, &cookie, &v, BPF_ANY);
}

/* The socket's owner; all 0 when unknown. */
static __always_inline struct raqib_sock_owner owner_of(__u64 cookie) {
  struct raqib_sock_owner *o = bpf_map_lookup_elem(&sock_owner, &cookie);
  struct raqib_sock_owner none = {};
  return o ? *o : none;
}

static __always_inline struct raqib_image current_image(void) {
  return image_of(bpf_get_current_task_btf());
}

/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d) becomes IPv4, as the packets
 * on the wire are. */
static __always_inline void unmap_v4(__u8 *addr, __u8 *family) {
  if (*family != 6) return;
  __u64 lo;
  __u32 mid;
  __builtin_memcpy(&lo, addr, 8);
  __builtin_memcpy(&mid, addr + 8, 4);
  if (lo != 0 || mid != bpf_htonl(0xffff)) return;
  __builtin_memcpy(addr, addr + 12, 4);
  __builtin_memset(addr + 4, 0, 12);
  *family = 4;
}

/* ---- peers ----------------------------------------------------------- */

/* A watched peer new to the epoch goes to its lane (peers_watched.bpf.h);
 * any other is context, within its process's share. */
static __always_inline void record_peer(struct raqib_peer_key *key, __u16 last_rport) {
  void *inner = current_epoch(&peers);
  if (!inner) return;
  __u64 now = bpf_ktime_get_boot_ns();
  struct raqib_peer_value *v = bpf_map_lookup_elem(inner, key);
  if (v) {
    count_map(RAQIB_MAP_PEERS, RAQIB_CNT_UPDATE);
  } else if (!(v = peer_lane_entry(key, now))) {
    if (!peer_share_left(key->tgid)) return;
    struct raqib_peer_value init = {.first_ns = now};
    long err = bpf_map_update_elem(inner, key, &init, BPF_NOEXIST);
    if (err == 0) {
      count_map(RAQIB_MAP_PEERS, RAQIB_CNT_INSERT);
      peer_context_inserted();
    } else if (err != -EEXIST) {
      count_map(RAQIB_MAP_PEERS, RAQIB_CNT_FAILED);
      return;
    }
    v = bpf_map_lookup_elem(inner, key);
    if (!v) return;
  }
  __sync_fetch_and_add(&v->count, 1);
  v->last_ns = now;
  v->last_rport = last_rport;
}

/* connect() or an unconnected UDP send: the process is current here. */
static __always_inline void connect_peer(struct bpf_sock_addr *ctx, __u8 family, int connect) {
  __u64 id = bpf_get_current_pid_tgid();
  if ((id >> 32) == self_tgid) return;
  struct raqib_image image = current_image();
  set_owner(bpf_get_socket_cookie(ctx), &image);
  struct raqib_peer_key key = {};
  if (family == 4) {
    __u32 a = ctx->user_ip4;
    __builtin_memcpy(key.raddr, &a, 4);
  } else {
    __u32 w0 = ctx->user_ip6[0], w1 = ctx->user_ip6[1], w2 = ctx->user_ip6[2],
          w3 = ctx->user_ip6[3];
    __builtin_memcpy(key.raddr, &w0, 4);
    __builtin_memcpy(key.raddr + 4, &w1, 4);
    __builtin_memcpy(key.raddr + 8, &w2, 4);
    __builtin_memcpy(key.raddr + 12, &w3, 4);
  }
  key.family = family;
  unmap_v4(key.raddr, &key.family);
  key.tgid = image.tgid;
  key.exec_seq = image.exec_seq;
  key.start_ns = image.start_ns;
  key.rport = bpf_ntohs((__u16)ctx->user_port);
  key.protocol = ctx->protocol;
  key.direction = RAQIB_NET_CONNECT;
  record_peer(&key, 0);
  if (connect) bpf_map_update_elem(&connect_inflight, &id, &key, BPF_ANY);
}

SEC("cgroup/connect4")
int raqib_connect4(struct bpf_sock_addr *ctx) {
  connect_peer(ctx, 4, 1);
  return 1;
}

SEC("cgroup/connect6")
int raqib_connect6(struct bpf_sock_addr *ctx) {
  connect_peer(ctx, 6, 1);
  return 1;
}

SEC("cgroup/sendmsg4")
int raqib_sendmsg4(struct bpf_sock_addr *ctx) {
  connect_peer(ctx, 4, 0);
  return 1;
}

SEC("cgroup/sendmsg6")
int raqib_sendmsg6(struct bpf_sock_addr *ctx) {
  connect_peer(ctx, 6, 0);
  return 1;
}

/* A failed connect: its errno on the peer (EINPROGRESS is not a failure). */
SEC("tracepoint/syscalls/sys_exit_connect")
int raqib_exit_connect(struct trace_event_raw_sys_exit *ctx) {
  __u64 id = bpf_get_current_pid_tgid();
  struct raqib_peer_key *key = bpf_map_lookup_elem(&connect_inflight, &id);
  if (!key) return 0;
  long ret = ctx->ret;
  if (ret < 0 && ret != -RAQIB_EINPROGRESS) {
    void *inner = current_epoch(&peers);
    struct raqib_peer_value *v = inner ? bpf_map_lookup_elem(inner, key) : NULL;
    if (!v) v = peer_lane_find(key);
    if (v) v->error = ret;
  }
  bpf_map_delete_elem(&connect_inflight, &id);
  return 0;
}

SEC("cgroup/sock_create")
int raqib_sock_create(struct bpf_sock *ctx) {
  if (ctx->family != RAQIB_AF_INET && ctx->family != RAQIB_AF_INET6) return 1;
  if ((bpf_get_current_pid_tgid() >> 32) == self_tgid) return 1;
  struct raqib_image image = current_image();
  set_owner(bpf_get_socket_cookie(ctx), &image);
  return 1;
}

/* ---- flows ----------------------------------------------------------- */

/* Add one observation to the flow's entry in the current epoch. state is a
 * TCP state, or 0 to leave it. */
static __always_inline void record_flow(struct raqib_flow_key *key,
                                        const struct raqib_sock_owner *owner, int egress,
                                        __u64 bytes, __u64 packets, __u32 state) {
  void *inner = current_epoch(&flows);
  if (!inner) return;
  __u64 now = bpf_ktime_get_boot_ns();
  struct raqib_flow_value *v = bpf_map_lookup_elem(inner, key);
  if (!v) {
    if (!flow_share_left(owner->tgid)) return;
    struct raqib_flow_value init = {.first_ns = now,
                                    .last_ns = now,
                                    .tgid = owner->tgid,
                                    .state = state,
                                    .exec_seq = owner->exec_seq,
                                    .start_ns = owner->start_ns};
    if (egress) {
      init.bytes_out = bytes;
      init.packets_out = packets;
    } else {
      init.bytes_in = bytes;
      init.packets_in = packets;
    }
    long err = bpf_map_update_elem(inner, key, &init, BPF_NOEXIST);
    if (err == 0) {
      count_map(RAQIB_MAP_FLOWS, RAQIB_CNT_INSERT);
      flow_context_inserted();
      return;
    }
    if (err != -EEXIST) {
      count_map(RAQIB_MAP_FLOWS, RAQIB_CNT_FAILED);
      return;
    }
    v = bpf_map_lookup_elem(inner, key);
    if (!v) return;
  }
  if (egress) {
    __sync_fetch_and_add(&v->bytes_out, bytes);
    __sync_fetch_and_add(&v->packets_out, packets);
  } else {
    __sync_fetch_and_add(&v->bytes_in, bytes);
    __sync_fetch_and_add(&v->packets_in, packets);
  }
  if (owner->tgid && (v->tgid != owner->tgid || v->exec_seq != owner->exec_seq)) {
    v->tgid = owner->tgid;
    v->exec_seq = owner->exec_seq;
    v->start_ns = owner->start_ns;
  }
  if (state) v->state = state;
  v->last_ns = now;
  count_map(RAQIB_MAP_FLOWS, RAQIB_CNT_UPDATE);
}

struct raqib_ip4_hdr {
  __u8 ver_ihl;
  __u8 tos;
  __u16 tot_len;
  __u16 id;
  __u16 frag_off;
  __u8 ttl;
  __u8 protocol;
  __u16 check;
  __u32 saddr;
  __u32 daddr;
};

struct raqib_ip6_hdr {
  __u32 ver_class_label;
  __u16 payload_len;
  __u8 nexthdr;
  __u8 hop_limit;
  __u8 saddr[16];
  __u8 daddr[16];
};

/* The 5-tuple of a TCP or UDP packet, seen from the local socket, with the
 * offset of its transport header. 0 when it is one. */
static __always_inline int parse_packet(struct __sk_buff *skb, int egress,
                                        struct raqib_flow_key *key, __u32 *l4_off) {
  if (skb->protocol == bpf_htons(RAQIB_ETH_P_IP)) {
    struct raqib_ip4_hdr ip;
    if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip))) return -1;
    if (bpf_ntohs(ip.frag_off) & 0x1fff) return -1; /* a later fragment: no ports */
    key->family = 4;
    key->protocol = ip.protocol;
    __builtin_memcpy(key->laddr, egress ? &ip.saddr : &ip.daddr, 4);
    __builtin_memcpy(key->raddr, egress ? &ip.daddr : &ip.saddr, 4);
    *l4_off = (ip.ver_ihl & 0xf) * 4;
  } else if (skb->protocol == bpf_htons(RAQIB_ETH_P_IPV6)) {
    struct raqib_ip6_hdr ip;
    if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip))) return -1;
    key->family = 6;
    key->protocol = ip.nexthdr; /* extension headers are not followed */
    __builtin_memcpy(key->laddr, egress ? ip.saddr : ip.daddr, 16);
    __builtin_memcpy(key->raddr, egress ? ip.daddr : ip.saddr, 16);
    *l4_off = sizeof(ip);
  } else {
    return -1;
  }
  if (key->protocol != IPPROTO_TCP && key->protocol != IPPROTO_UDP) return -1;
  __u16 ports[2];
  if (bpf_skb_load_bytes(skb, *l4_off, ports, sizeof(ports))) return -1;
  key->lport = bpf_ntohs(egress ? ports[0] : ports[1]);
  key->rport = bpf_ntohs(egress ? ports[1] : ports[0]);
  return 0;
}

/* Transport payload bytes of the packet at l4_off. */
static __always_inline __u32 payload_bytes(struct __sk_buff *skb, __u8 protocol, __u32 l4_off) {
  __u32 header = 8; /* UDP */
  if (protocol == IPPROTO_TCP) {
    __u8 doff = 0;
    if (bpf_skb_load_bytes(skb, l4_off + 12, &doff, 1)) return 0;
    header = (doff >> 4) * 4;
  }
  __u32 total = l4_off + header;
  return skb->len > total ? skb->len - total : 0;
}

/* ---- DNS ------------------------------------------------------------- */

#define RAQIB_DNS_MSG_MASK (RAQIB_DNS_MSG_MAX - 1)

static __always_inline struct raqib_net_scratch *net_scratch_slot(__u32 *slot) {
  return bpf_map_lookup_elem(&net_scratch, slot);
}

/* One label of the question name in scratch.msg; 1 ends the scan. The scan's
 * state lives in the scratch map, so the verifier checks this step once. */
static long dns_label_step(__u32 index, void *ctx) {
  struct raqib_net_scratch *sc = net_scratch_slot(ctx);
  if (!sc) return 1;
  struct raqib_dns_parse *p = &sc->p;
  __u32 pos = p->pos;
  if (pos >= p->len || pos >= RAQIB_DNS_NAME_MAX) return 1;
  __u8 label = sc->msg[pos & RAQIB_DNS_MSG_MASK];
  if (label == 0) {
    p->ended = 1;
    return 1;
  }
  if (label & 0xc0) return 1; /* a pointer has no place in a question */
  p->pos = pos + label + 1;
  return 0;
}

/* One answer record at scratch.p.pos; A and AAAA addresses are kept. Owner
 * names are almost always a compression pointer (2 bytes); a record whose
 * owner name is not stops the parse (flagged). */
static long dns_answer_step(__u32 index, void *ctx) {
  struct raqib_net_scratch *sc = net_scratch_slot(ctx);
  if (!sc) return 1;
  struct raqib_dns_parse *p = &sc->p;
  if (index >= p->ancount) return 1;
  __u32 at = p->pos;
  if (at + 12 > p->len || at >= RAQIB_DNS_MSG_MAX) {
    p->flags |= RAQIB_DNSV_ANSWERS_TRUNCATED; /* beyond what was loaded */
    return 1;
  }
  __u8 *rr = &sc->msg[at & RAQIB_DNS_MSG_MASK]; /* pointer, type, class, ttl, rdlength */
  if ((rr[0] & 0xc0) != 0xc0) {
    p->flags |= RAQIB_DNSV_ANSWERS_TRUNCATED;
    return 1;
  }
  __u16 type = (rr[2] << 8) | rr[3];
  __u16 rdlen = (rr[10] << 8) | rr[11];
  at += 12;
  if ((type == RAQIB_DNS_TYPE_A && rdlen == 4) || (type == RAQIB_DNS_TYPE_AAAA && rdlen == 16)) {
    if (p->n >= RAQIB_DNS_ANSWERS_MAX || at + rdlen > p->len || at >= RAQIB_DNS_MSG_MAX) {
      p->flags |= RAQIB_DNSV_ANSWERS_TRUNCATED;
      return 1;
    }
    __u32 n = p->n & (RAQIB_DNS_ANSWERS_MAX - 1);
    __u8 *src = &sc->msg[at & RAQIB_DNS_MSG_MASK];
    __builtin_memset(p->answers[n], 0, 16);
    if (type == RAQIB_DNS_TYPE_A) {
      __builtin_memcpy(p->answers[n], src, 4);
      p->answer_family[n] = 4;
    } else {
      __builtin_memcpy(p->answers[n], src, 16);
      p->answer_family[n] = 6;
    }
    p->n++;
  }
  p->pos = at + rdlen;
  return 0;
}

/* The question (and, in a response, the A/AAAA answers) of the DNS message
 * at off. Names are kept in wire format (length-prefixed labels) in the
 * strings map; the core turns them into dotted text. */
static __always_inline void parse_dns(struct __sk_buff *skb, __u32 off, int egress, __u32 tgid,
                                      __u16 lport) {
  __u8 hdr[12];
  if (bpf_skb_load_bytes(skb, off, hdr, sizeof(hdr))) return;
  int response = hdr[2] >> 7;
  if (response == egress) return; /* queries go out, responses come in */
  __u16 qdcount = (hdr[4] << 8) | hdr[5];
  if (qdcount == 0) return;
  /* A response answers a query this socket sent from this port with this id. */
  struct raqib_dns_asked_key asked = {
      .cookie = bpf_get_socket_cookie(skb), .lport = lport, .id = (hdr[0] << 8) | hdr[1]};
  __u8 yes = 1;
  if (!response)
    bpf_map_update_elem(&dns_asked, &asked, &yes, BPF_ANY);
  else if (bpf_map_delete_elem(&dns_asked, &asked) != 0)
    return;

  __u32 slot = egress ? 0 : 1;
  struct raqib_net_scratch *sc = net_scratch_slot(&slot);
  if (!sc) return;
  struct raqib_dns_parse *p = &sc->p;
  __u32 msg_off = off + sizeof(hdr);
  if (skb->len <= msg_off) return;
  __u32 len = skb->len - msg_off;
  if (len > RAQIB_DNS_MSG_MAX) len = RAQIB_DNS_MSG_MAX;
  if (len == 0) return;
  /* The same value for len in [1, RAQIB_DNS_MSG_MAX], in a form whose bounds
   * the verifier sees whatever registers the compiler picks. */
  len = ((len - 1) & RAQIB_DNS_MSG_MASK) + 1;
  if (bpf_skb_load_bytes(skb, msg_off, sc->msg, len)) return;
  p->len = len;
  p->pos = 0;
  p->ended = 0;
  p->n = 0;
  p->flags = 0;
  p->ancount = (hdr[6] << 8) | hdr[7];
  bpf_loop(RAQIB_DNS_LABELS_MAX, dns_label_step, &slot, 0);

  struct raqib_string *s = &sc->name;
  __builtin_memcpy(s->str, sc->msg, RAQIB_DNS_NAME_MAX);
  __u32 name_len = p->pos;
  __u16 qtype = 0;
  if (p->ended && name_len < RAQIB_DNS_NAME_MAX) {
    name_len += 1; /* the terminating zero */
    __u32 at = name_len & RAQIB_DNS_MSG_MASK;
    if (at + 2 <= len) qtype = (sc->msg[at] << 8) | sc->msg[at + 1];
  } else {
    if (name_len > len) name_len = len;
    if (name_len > RAQIB_DNS_NAME_MAX) name_len = RAQIB_DNS_NAME_MAX;
    p->flags |= RAQIB_DNSV_NAME_TRUNCATED;
    p->ended = 0;
  }
  s->len = name_len;
  s->flags = RAQIB_STR_DNS_WIRE;
  pad_string(s);

  if (response) {
    if (p->ended && qdcount == 1) {
      p->pos = name_len + 4; /* past QTYPE and QCLASS */
      bpf_loop(RAQIB_DNS_RR_MAX, dns_answer_step, &slot, 0);
      if (p->ancount > RAQIB_DNS_RR_MAX) p->flags |= RAQIB_DNSV_ANSWERS_TRUNCATED;
    } else if (p->ancount) {
      p->flags |= RAQIB_DNSV_ANSWERS_TRUNCATED;
    }
  }

  struct raqib_dns_key key = {.tgid = tgid, .qtype = qtype};
  key.name_hash = hash_string(s);
  void *inner = current_epoch(&dns);
  if (!inner) return;
  __u64 now = bpf_ktime_get_boot_ns();
  struct raqib_dns_value *v = bpf_map_lookup_elem(inner, &key);
  if (v)
    count_map(RAQIB_MAP_DNS, RAQIB_CNT_UPDATE);
  else if (!(v = dns_lane_entry(slot, &key, s, now))) { /* a watched name: its lane */
    struct raqib_dns_value init = {};
    init.first_ns = now;
    long err = bpf_map_update_elem(inner, &key, &init, BPF_NOEXIST);
    if (err == 0) {
      count_map(RAQIB_MAP_DNS, RAQIB_CNT_INSERT);
      put_string(key.name_hash, s);
    } else if (err != -EEXIST) {
      count_map(RAQIB_MAP_DNS, RAQIB_CNT_FAILED);
      return;
    }
    v = bpf_map_lookup_elem(inner, &key);
    if (!v) return;
  }
  v->last_ns = now;
  v->flags |= p->flags;
  if (!response) {
    __sync_fetch_and_add(&v->queries, 1);
    return;
  }
  __sync_fetch_and_add(&v->responses, 1);
  v->rcode = hdr[3] & 0xf;
  __builtin_memcpy(v->answers, p->answers, sizeof(v->answers));
  __builtin_memcpy(v->answer_family, p->answer_family, sizeof(v->answer_family));
  v->answers_len = p->n;
}

/* ---- packets --------------------------------------------------------- */

static __always_inline void on_packet(struct __sk_buff *skb, int egress) {
  struct raqib_flow_key key = {};
  __u32 l4_off = 0;
  if (parse_packet(skb, egress, &key, &l4_off)) return;
  struct raqib_sock_owner owner = owner_of(bpf_get_socket_cookie(skb));
  __u32 segs = skb->gso_segs;
  __u32 state = 0; /* the socket's TCP state now (BPF_TCP_* are the kernel's TCP_*) */
  struct bpf_sock *sk = skb->sk;
  if (sk && key.protocol == IPPROTO_TCP) {
    sk = bpf_sk_fullsock(sk);
    if (sk) state = sk->state;
  }
  record_flow(&key, &owner, egress, payload_bytes(skb, key.protocol, l4_off), segs ? segs : 1,
              state);
  if (key.protocol == IPPROTO_UDP && key.rport == RAQIB_DNS_PORT)
    parse_dns(skb, l4_off + 8, egress, owner.tgid, key.lport);
}

SEC("cgroup_skb/egress")
int raqib_skb_egress(struct __sk_buff *skb) {
  on_packet(skb, 1);
  return 1; /* allow: raqib observes, it never filters */
}

SEC("cgroup_skb/ingress")
int raqib_skb_ingress(struct __sk_buff *skb) {
  on_packet(skb, 0);
  return 1;
}

/* ---- TCP state and accepts ------------------------------------------- */

/* The 5-tuple of a socket, as parse_packet sees its packets. 0 when it has
 * both ports (a listener or a socket not yet bound has not). */
static __always_inline int sock_flow_key(struct sock *sk, struct raqib_flow_key *key) {
  __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
  if (family == RAQIB_AF_INET) {
    __u32 l = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
    __u32 r = BPF_CORE_READ(sk, __sk_common.skc_daddr);
    __builtin_memcpy(key->laddr, &l, 4);
    __builtin_memcpy(key->raddr, &r, 4);
    key->family = 4;
  } else if (family == RAQIB_AF_INET6) {
    bpf_core_read(key->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
    bpf_core_read(key->raddr, 16, &sk->__sk_common.skc_v6_daddr);
    key->family = 6;
    __u8 lfam = 6;
    unmap_v4(key->laddr, &lfam);
    unmap_v4(key->raddr, &key->family);
  } else {
    return -1;
  }
  key->protocol = BPF_CORE_READ(sk, sk_protocol);
  key->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
  key->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
  return key->lport && key->rport ? 0 : -1;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(raqib_sock_state, struct sock *sk, int oldstate, int newstate) {
  if (sk->sk_protocol != IPPROTO_TCP) return 0;
  /* Also makes the kernel give the socket its cookie, which accept's exit
   * reads from the accepted socket to record its owner. */
  __u64 cookie = bpf_get_socket_cookie(sk);
  struct raqib_flow_key key = {};
  if (sock_flow_key(sk, &key)) return 0;
  struct raqib_sock_owner owner = owner_of(cookie);
  record_flow(&key, &owner, 1, 0, 0, newstate);
  return 0;
}

static __always_inline void accept_exit(long fd) {
  if (fd < 0) return;
  if ((bpf_get_current_pid_tgid() >> 32) == self_tgid) return;
  struct task_struct *task = bpf_get_current_task_btf();
  struct raqib_image image = image_of(task);
  struct file **fds = BPF_CORE_READ(task, files, fdt, fd);
  struct file *file = NULL;
  bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
  if (!file) return;
  struct socket *sock = BPF_CORE_READ(file, private_data);
  struct sock *sk = BPF_CORE_READ(sock, sk);
  if (!sk) return;
  struct raqib_flow_key fk = {};
  if (sock_flow_key(sk, &fk)) return;
  __u64 cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
  set_owner(cookie, &image);

  struct raqib_peer_key key = {};
  __builtin_memcpy(key.raddr, fk.raddr, 16);
  key.tgid = image.tgid;
  key.exec_seq = image.exec_seq;
  key.start_ns = image.start_ns;
  key.lport = fk.lport;
  key.family = fk.family;
  key.protocol = fk.protocol;
  key.direction = RAQIB_NET_ACCEPT;
  record_peer(&key, fk.rport);

  /* The handshake's packets came before the owner was known. */
  void *inner = current_epoch(&flows);
  if (!inner) return;
  struct raqib_flow_value *v = bpf_map_lookup_elem(inner, &fk);
  if (v && !v->tgid) {
    v->tgid = image.tgid;
    v->exec_seq = image.exec_seq;
    v->start_ns = image.start_ns;
  }
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int raqib_exit_accept4(struct trace_event_raw_sys_exit *ctx) {
  accept_exit(ctx->ret);
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int raqib_exit_accept(struct trace_event_raw_sys_exit *ctx) {
  accept_exit(ctx->ret);
  return 0;
}

#endif /* RAQIB_NET_BPF_H */
