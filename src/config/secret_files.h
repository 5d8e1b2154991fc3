#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/error_list.h"

namespace l4lb::config {

// A secret file as it was when read (fstat of the open descriptor), placed at its key.
[[nodiscard]] SecretSource secretSource(const ErrorList& errors, const Origin& where,
                                        const std::string& path, const struct stat& st);

// What is wrong with a secret file l4lb reads as `run_uid`: others than its owner may read it
// (group or world bits), or it belongs to neither root nor `run_uid`. Empty: nothing.
[[nodiscard]] std::vector<std::string> secretFileProblems(const SecretSource& source,
                                                          std::uint32_t run_uid);

// Checks every secret file of `config` (admin token_file, each pool's password_file) as read by
// the user l4lb runs as ([global] user, else this process's): errors with
// [global] strict_secrets = true, warnings otherwise.
void checkSecretFiles(const Config& config, ErrorList& errors);

}  // namespace l4lb::config
