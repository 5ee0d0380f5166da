// The recipe language shared by the detection plugins (file, exec, net):
// recipes read from TOML with errors naming FILE:LINE:COL, and the matching
// of behaviour records against them. Like the plugins it uses only the SDK
// and libraries. docs/recipes.md is the guide.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <raqib/plugin_api.h>
#include <toml++/toml.h>

namespace re2 {
class RE2;
}

namespace raqib::recipes {

// A recipe that cannot be used; the message names where and what to fix.
struct RecipeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class Plugin { File, Exec, Net };
const char *pluginName(Plugin plugin);

// What recipes watch, for compiling into kernel-side sets: exact strings,
// directory prefixes (ending in '/'), basenames, and the patterns that no
// set can hold (globs, regexes) and so need user-space matching.
struct Watched {
  std::vector<std::string> exact;
  std::vector<std::string> prefixes;
  std::vector<std::string> basenames;
  std::vector<std::string> patterns;
  std::vector<std::string> networks;  // CIDRs, "169.254.169.254/32"
};

// A list of patterns, any of which may match:
//   "re:EXPR"   an RE2 expression over the whole text (linear time)
//   "/dir/"     paths: anything under /dir
//   "~/x"       paths: /root/x and /home/*/x
//   "name"      paths: no '/' matches the basename
//   with * ? [  a glob (paths: '*' stops at '/')
//   otherwise   the exact text
class PatternSet {
 public:
  enum class Kind { Path, Text };
  explicit PatternSet(Kind kind = Kind::Path) : kind_(kind) {}

  // Adds pattern; "" when it is valid, else what is wrong with it.
  std::string add(const std::string &pattern);
  bool matches(std::string_view text) const;
  bool empty() const { return size_ == 0; }
  void exportTo(Watched &out) const;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using StringSet = std::unordered_set<std::string, Hash, std::equal_to<>>;
  struct Glob {
    std::string pattern;
    std::string literal;  // the text before the first wildcard: a cheap pre-check
    bool basename;
    bool under;  // "/home/*/.cache/": anything under what the pattern matches
  };
  void addOne(const std::string &pattern);

  Kind kind_;
  size_t size_ = 0;
  StringSet exact_;
  StringSet basenames_;
  std::vector<std::string> prefixes_;
  std::vector<Glob> globs_;
  std::vector<std::shared_ptr<const re2::RE2>> regexes_;
};

// An IPv4 or IPv6 network.
struct Cidr {
  uint32_t family = 0;  // 4 or 6
  uint8_t addr[16] = {};
  uint32_t prefix = 0;
  std::string text;
};

// Domain names: "example.com" exactly, ".example.com" or "*.example.com"
// that name and every name under it. Case-insensitive.
class DomainSet {
 public:
  void add(std::string domain);
  bool matches(std::string_view name) const;
  bool empty() const { return exact_.empty() && suffixes_.empty(); }
  void exportTo(Watched &out) const;

 private:
  std::unordered_set<std::string> exact_;
  std::unordered_set<std::string> suffixes_;
};

// Shannon entropy in bits per character of the longest label of name.
double domainEntropy(std::string_view name, size_t *longest_label = nullptr);

// Filters every recipe may have, in [recipe.include] (every key given must
// match) and [recipe.exclude] (any key that matches excludes the record).
struct Filter {
  PatternSet exe{PatternSet::Kind::Path};
  PatternSet comm{PatternSet::Kind::Text};
  PatternSet args{PatternSet::Kind::Text};  // any argument
  PatternSet parent_exe{PatternSet::Kind::Path};
  PatternSet ancestor_exe{PatternSet::Kind::Path};  // any ancestor
  std::vector<uint32_t> uids;
  std::vector<uint64_t> cgroups;
  bool empty = true;
};

struct FileConditions {
  PatternSet paths{PatternSet::Kind::Path};
  PatternSet exclude_paths{PatternSet::Kind::Path};
  uint32_t actions = 0;  // raqib_file_action
  bool all_actions = false;
  bool failed_attempts = false;  // records of failed calls match too
  bool other_process = false;    // /proc/PID/... of a PID other than the record's own
  bool own_exe = false;          // the path is the process's own executable
};

struct ExecConditions {
  PatternSet exe{PatternSet::Kind::Path};
  PatternSet args{PatternSet::Kind::Text};  // any argument after argv[0]
  uint32_t exe_flags = 0;                   // RAQIB_EXE_*: any of them
  uint32_t env = 0;                         // RAQIB_PROCESS_ENV_*: any of them set at exec
  uint32_t stdio_sockets = 0;               // RAQIB_PROCESS_STD*_SOCKET: any of them at exec
};

// Record kinds a net recipe looks at, as bits.
enum NetDirection : uint32_t {
  kNetConnect = 1u << 0,
  kNetAccept = 1u << 1,
  kNetFlow = 1u << 2,
  kNetDns = 1u << 3,
};

struct PortRange {
  uint32_t first = 0;
  uint32_t last = 0;
};

struct NetConditions {
  std::vector<Cidr> cidrs;
  std::vector<PortRange> ports;
  uint32_t protocol = 0;    // 0: any; 6 tcp; 17 udp
  uint32_t directions = 0;  // NetDirection bits
  DomainSet domains;
  double entropy_min = 0;  // 0: not scored
  uint32_t entropy_min_length = 0;
};

// A rate limit: at most max detections per key in each window.
struct Times {
  enum class Per { Process, Exe, ParentExe, Ancestry, Total };
  Per per = Per::Process;
  uint64_t max = 0;  // 0: no limit
  int64_t window_ns = 0;
};

struct RecipeMeta {
  std::string name;
  std::string description;
  std::string tactic;
  std::string technique;
  raqib_importance importance = RAQIB_IMPORTANCE_MEDIUM;
};

struct Recipe {
  RecipeMeta meta;
  Plugin plugin = Plugin::File;
  bool enabled = true;
  std::string source;  // FILE:LINE:COL of its table
  FileConditions file;
  ExecConditions exec;
  NetConditions net;
  Filter include;
  Filter exclude;
  Times times;
};

// One TOML document of recipes: [[recipe]] tables and a [lists] table of
// named string lists (net recipes refer to them).
struct Document {
  std::shared_ptr<const toml::table> table;  // shared: a copy would lose source positions
  std::string source;                        // the name errors use
};
Document parseDocument(std::string_view text, std::string_view source);

// Reads a list file: its text, or nullopt with err set.
using ListFileReader =
    std::function<std::optional<std::string>(const std::string &path, std::string &err)>;

// Moves the entries of the files a plugin section's list_files table names
// (list name = "/path", one entry a line, '#' comments) into its [lists]
// table, and removes list_files. Run by the daemon before the plugin starts
// (a plugin may not open files). Throws RecipeError naming FILE:LINE:COL.
void inlineListFiles(toml::table &section, const std::string &source, const ListFileReader &read);

// The recipes of one plugin, with the state their rate limits keep.
class RecipeSet {
 public:
  using Emit = std::function<void(const Recipe &)>;
  using Report = std::function<void(const std::string &)>;

  // Every [[recipe]] of docs whose plugin is plugin; a later recipe of the
  // same name replaces an earlier one, later [lists] entries extend earlier
  // ones. Throws RecipeError.
  static RecipeSet parse(Plugin plugin, const std::vector<Document> &docs);

  // Calls emit for each enabled recipe record matches, unless its rate limit
  // suppresses it; report gets a line for what the limits suppressed once
  // their window is over.
  void match(const raqib_record &record, const Emit &emit, const Report &report);
  // Reports every suppression not yet reported (at stop).
  void flushSuppressed(const Report &report);

  const std::vector<Recipe> &recipes() const { return recipes_; }
  // What the enabled recipes watch: paths (file), executables (exec),
  // addresses and domains (net).
  Watched watched() const;

 private:
  struct Bucket {
    int64_t window_start = 0;
    uint64_t count = 0;
    uint64_t suppressed = 0;
  };
  struct Limiter {
    std::unordered_map<std::string, Bucket> buckets;
  };
  bool allow(size_t index, const raqib_record &record, int64_t now, const Report &report);
  void sweep(int64_t now, const Report &report);

  Plugin plugin_ = Plugin::File;
  std::vector<Recipe> recipes_;
  std::vector<Limiter> limiters_;
  int64_t last_sweep_ = 0;
};

bool conditionsMatch(const Recipe &recipe, const raqib_record &record);
bool filtersPass(const Recipe &recipe, const raqib_record &record);

// The detection for record, filled from meta.
raqib_detection detectionFor(const RecipeMeta &meta, const raqib_record &record);

}  // namespace raqib::recipes
