// The recipe catalogue from the command line: `raqib --list-recipes`,
// `raqib replay FILE.jsonl` (the recipes run over records captured with
// --events all, no root and no BPF), and the check of a configuration's
// recipes with positions in the configuration file itself.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>

#include "config.hpp"
#include "result.hpp"

namespace raqib {

// The configuration's text and the name its errors use: the file's, or the
// built-in default's when config_file is empty.
struct ConfigText {
  std::string text;
  std::string source;
};
Result<ConfigText> readConfigText(const std::string &config_file);

// Parses the built-in recipes of every recipe plugin config enables, and the
// recipes of its [plugins.NAME] section; the error names FILE:LINE:COL.
Status checkRecipes(const Config &config, const ConfigText &text);

// checkRecipes, then the list files the recipe plugins' sections name
// (list_files) read into their [lists]: a plugin may not open files itself.
// Sets config.watched to what the file recipes watch.
Status prepareRecipes(Config &config, const ConfigText &text);

// name, plugin, importance, tactic, technique, enabled, description: one
// recipe a line, tab-separated. Returns the exit code.
int listRecipes(const Config &config, const ConfigText &text, std::ostream &out);

// Every "kind":"info" record of the JSON-lines file through the recipes, as
// the daemon runs them; detections to out as JSON (json) or text lines.
// Rate-limit reports and bad lines go to err. Returns the exit code: 0, 1
// when the file cannot be read, 2 for bad recipes.
int replayRecords(const Config &config, const ConfigText &text, const std::string &records_file,
                  bool json, std::ostream &out, std::ostream &err);

}  // namespace raqib
