#pragma once

#include <toml++/toml.h>

#include <string>
#include <vector>

#include "config/error_list.h"

namespace l4lb::config {

// The top-level `include = ["conf.d/*.toml", ...]`: each pattern (a glob, relative to the
// including file's directory) names files that hold more [[listener]] entries and [pool.NAME]
// tables, merged into `root` in the order the patterns list them (the files of one pattern in
// name order). A pattern with a wildcard may match nothing (an empty conf.d); a plain path must
// exist. Included files hold listeners and pools only, and include nothing further; a pool
// defined twice is an error naming both places. Every error names the file it is in. Returns the
// files read, in order.
std::vector<std::string> mergeIncludes(toml::table& root, const std::string& including_file,
                                       ErrorList& errors);

}  // namespace l4lb::config
