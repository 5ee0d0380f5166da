#include "watched_set.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <utility>

#include "raqib.skel.h"
#include "raqib/siphash.h"
#include "recipe.hpp"

namespace raqib {

namespace {

bool hasWildcard(std::string_view p) {
  return p.find_first_of("*?[") != std::string_view::npos;
}

std::vector<WatchedPath> listOf(const std::map<std::string, uint32_t> &set) {
  std::vector<WatchedPath> out;
  for (const auto &[text, actions] : set) out.push_back({text, actions});
  return out;
}

}  // namespace

uint32_t procCap(uint32_t entries) {
  return std::max<uint32_t>(entries / 2, 16);
}

uint32_t fillMark(uint32_t entries) {
  return std::max<uint32_t>(entries - entries / 4, 1);
}

uint64_t keyedHash(std::string_view text, uint64_t k0, uint64_t k1) {
  std::vector<uint8_t> buf(text.begin(), text.end());
  buf.resize(text.size() + 8, 0);  // zero-filled past the end, as SipHash reads words
  return raqib_siphash24(buf.data(), uint32_t(text.size()), k0, k1);
}

int mergeWatched(int fd, const WatchedPaths &w, uint64_t k0, uint64_t k1,
                 const std::function<std::string(const std::string &)> &hashed) {
  for (auto [list, field] : {std::pair{&w.exact, &raqib_watch_actions::exact},
                             std::pair{&w.prefixes, &raqib_watch_actions::prefix},
                             std::pair{&w.basenames, &raqib_watch_actions::basename}})
    for (const WatchedPath &p : *list) {
      uint64_t hash = keyedHash(hashed(p.text), k0, k1);
      raqib_watch_actions actions{};
      bpf_map_lookup_elem(fd, &hash, &actions);  // absent: none yet
      actions.*field |= p.actions;
      if (int err = bpf_map_update_elem(fd, &hash, &actions, BPF_ANY); err < 0) return err;
    }
  return 0;
}

uint32_t prefixDepth(const WatchedPaths &w) {
  uint32_t depth = 0;
  for (const auto &p : w.prefixes)
    depth = std::max<uint32_t>(depth, std::count(p.text.begin(), p.text.end(), '/'));
  return depth;
}

bool WatchedSetBuilder::add(const recipes::PatternSet &set, uint32_t actions) {
  size_t left_out = user_space_only_.size();
  recipes::Watched w;
  set.exportTo(w);
  // By text: several recipes may name one string.
  for (const auto &e : w.exact) exact_[e] |= actions;
  for (const auto &p : w.prefixes) prefixes_[p] |= actions;
  for (const auto &b : w.basenames) basenames_[b] |= actions;
  for (const auto &p : w.patterns) {
    size_t slash = p.find_last_of('/', p.size() - 2);
    bool under = p.back() == '/';
    if (p.rfind("re:", 0) == 0 || p[0] != '/' || slash == std::string::npos || under) {
      user_space_only_.push_back(p);
    } else if (std::string last = p.substr(slash + 1); !hasWildcard(last)) {
      basenames_[last] |= actions;
    } else if (std::string dir = p.substr(0, slash + 1); !hasWildcard(dir)) {
      prefixes_[dir] |= actions;
    } else {
      user_space_only_.push_back(p);
    }
  }
  return user_space_only_.size() == left_out;
}

WatchedPaths WatchedSetBuilder::done() && {
  WatchedPaths out;
  out.exact = listOf(exact_);
  out.prefixes = listOf(prefixes_);
  out.basenames = listOf(basenames_);
  out.user_space_only = std::move(user_space_only_);
  std::sort(out.user_space_only.begin(), out.user_space_only.end());
  out.user_space_only.erase(std::unique(out.user_space_only.begin(), out.user_space_only.end()),
                            out.user_space_only.end());
  return out;
}

WatchedPaths watchedPathsOf(const std::vector<recipes::Recipe> &all) {
  WatchedSetBuilder sets;
  for (const recipes::Recipe &r : all)
    if (r.enabled && r.plugin == recipes::Plugin::File)
      sets.add(r.file.paths, r.file.actions);  // actions: required by the recipe language
  return std::move(sets).done();
}

uint64_t kernelDev(uint64_t st_dev) {
  return (uint64_t(major(st_dev)) << 20) | minor(st_dev);
}

void WatchedLane::configure(raqib_bpf *s, const Config &config) {
  const WatchedPaths &w = config.watched;
  s->rodata->watch_enabled = !w.empty();
  s->rodata->watch_prefix_depth = prefixDepth(w);
  s->rodata->watch_basenames = !w.basenames.empty();
  s->rodata->watch_inodes = !w.exact.empty();
  s->rodata->file_proc_cap = procCap(config.file_access.map_entries);
  s->rodata->file_fill_mark = fillMark(config.file_access.map_entries);
  s->rodata->watch_lane_soft = fillMark(bpf_map__max_entries(s->maps.file_watched_a));
  size_t strings = w.exact.size() + w.prefixes.size() + w.basenames.size();
  bpf_map__set_max_entries(s->maps.watched_paths, std::max<size_t>(strings, 1));
  // Room for each watched file's inode at start and for those it gets later.
  bpf_map__set_max_entries(s->maps.watched_inodes, 4 * w.exact.size() + 64);
}

Status WatchedLane::fill(raqib_bpf *s, const WatchedPaths &w) {
  uint64_t k0 = s->rodata->hash_key0, k1 = s->rodata->hash_key1;
  if (int err = mergeWatched(bpf_map__fd(s->maps.watched_paths), w, k0, k1,
                             [](const std::string &text) { return text; });
      err < 0)
    return Error{fmt::format("filling the watched paths map: {}", std::strerror(-err))};

  // Each watched file that exists, by what it is: another name for it (a
  // hard link, a bind mount) reaches the same recipe.
  int inodes_fd = bpf_map__fd(s->maps.watched_inodes);
  size_t found = 0;
  for (const auto &e : w.exact) {
    canonical_[keyedHash(e.text, k0, k1)] = e.text;  // the kernel may learn its inode later
    struct stat st {};
    if (stat(e.text.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    raqib_inode_id id{kernelDev(st.st_dev), st.st_ino};
    uint8_t buf[sizeof id + 8] = {};
    std::memcpy(buf, &id, sizeof id);
    uint64_t key = raqib_siphash24(buf, sizeof id, k0, k1);
    raqib_watch_inode value{keyedHash(e.text, k0, k1), e.actions, 0};
    if (int err = bpf_map_update_elem(inodes_fd, &key, &value, BPF_ANY); err < 0)
      return Error{fmt::format("filling the watched inodes map: {}", std::strerror(-err))};
    constexpr size_t kWords = std::size(decltype(s->bss->watched_ino_bits){});
    s->bss->watched_ino_bits[id.ino / 64 % kWords] |= uint64_t(1) << (id.ino % 64);
    found++;
  }
  epochs_ = EpochPair(bpf_map__fd(s->maps.file_watched), bpf_map__fd(s->maps.file_watched_a),
                      bpf_map__fd(s->maps.file_watched_b));
  epoch_fd_ = bpf_map__fd(s->maps.file_epoch);
  pressure_fd_ = bpf_map__fd(s->maps.file_pressure);
  spdlog::info(
      "watched sets: {} exact paths ({} files by inode), {} directory prefixes, {} basenames; "
      "{} patterns matched in user space only",
      w.exact.size(), found, w.prefixes.size(), w.basenames.size(), w.user_space_only.size());
  return Ok{};
}

Status WatchedLane::nextEpoch() {
  uint32_t zero = 0;
  struct {
    uint64_t seq, filled, signalled, lane_filled;  // struct raqib_file_epoch
  } epoch{++seq_, 0, 0, 0};
  if (int err = bpf_map_update_elem(epoch_fd_, &zero, &epoch, BPF_ANY); err < 0)
    return Error{fmt::format("starting a file epoch: {}", std::strerror(-err))};
  return Ok{};
}

const std::string *WatchedLane::canonicalName(uint64_t hash) const {
  auto it = canonical_.find(hash);
  return it == canonical_.end() ? nullptr : &it->second;
}

Result<std::unique_ptr<PressureWatch>> PressureWatch::open(
    boost::asio::io_context &io, int ringbuf_fd, std::function<void(uint32_t)> on_pressure) {
  auto kinds = std::make_unique<uint32_t>(0);
  ring_buffer *rb = ring_buffer__new(
      ringbuf_fd,
      [](void *ctx, void *data, size_t size) {
        uint64_t word = 0;
        std::memcpy(&word, data, std::min(size, sizeof word));
        *static_cast<uint32_t *>(ctx) |= uint32_t(word);
        return 0;
      },
      kinds.get(), nullptr);
  if (!rb) return Error{fmt::format("opening the file pressure ring: {}", std::strerror(errno))};
  return std::unique_ptr<PressureWatch>(
      new PressureWatch(io, rb, std::move(kinds), std::move(on_pressure)));
}

PressureWatch::PressureWatch(boost::asio::io_context &io, ring_buffer *rb,
                             std::unique_ptr<uint32_t> kinds,
                             std::function<void(uint32_t)> on_pressure)
    : rb_(rb),
      kinds_(std::move(kinds)),
      readable_(io, ring_buffer__epoll_fd(rb)),
      on_pressure_(std::move(on_pressure)) {
  arm();
}

PressureWatch::~PressureWatch() {
  readable_.release();  // the epoll fd is the ring buffer's to close
  ring_buffer__free(rb_);
}

void PressureWatch::arm() {
  readable_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                       [this](const boost::system::error_code &ec) {
                         if (ec) return;
                         if (ring_buffer__consume(rb_) > 0 && *kinds_) {
                           wakeups_++;
                           on_pressure_(std::exchange(*kinds_, 0));
                         }
                         arm();
                       });
}

}  // namespace raqib
