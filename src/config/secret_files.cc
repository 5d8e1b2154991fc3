#include "config/secret_files.h"

#include <fmt/format.h>
#include <unistd.h>

namespace l4lb::config {

SecretSource secretSource(const ErrorList& errors, const Origin& where, const std::string& path,
                          const struct stat& st) {
  ConfigError place = errors.placeOf(where);
  return SecretSource{.path = path,
                      .mode = static_cast<std::uint32_t>(st.st_mode),
                      .owner = static_cast<std::uint32_t>(st.st_uid),
                      .file = std::move(place.file),
                      .line = place.line,
                      .column = place.column,
                      .key = std::move(place.key)};
}

std::vector<std::string> secretFileProblems(const SecretSource& source, std::uint32_t run_uid) {
  std::vector<std::string> problems;
  const std::uint32_t others = source.mode & (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH);
  if (others != 0) {
    problems.push_back(
        fmt::format("{} is mode {:04o}: its group or other users may read it (chmod 600 {})",
                    source.path, source.mode & 07777, source.path));
  }
  if (source.owner != 0 && source.owner != run_uid) {
    problems.push_back(fmt::format(
        "{} belongs to uid {}, neither root nor the user l4lb runs as (uid {}): that user can "
        "change the secret (chown it to root or to l4lb's user)",
        source.path, source.owner, run_uid));
  }
  return problems;
}

void checkSecretFiles(const Config& config, ErrorList& errors) {
  const std::uint32_t run_uid =
      config.global.user.empty() ? static_cast<std::uint32_t>(::geteuid()) : config.global.uid;
  auto check = [&](const std::optional<SecretSource>& source) {
    if (!source) return;
    for (std::string& problem : secretFileProblems(*source, run_uid)) {
      ConfigError found{.file = source->file,
                        .line = source->line,
                        .column = source->column,
                        .key = source->key,
                        .message = std::move(problem)};
      if (config.global.strict_secrets) {
        found.message += " ([global] strict_secrets = true refuses it)";
        errors.add(std::move(found));
      } else {
        errors.warn(std::move(found));
      }
    }
  };
  check(config.admin.token_source);
  for (const PoolConfig& pool : config.pools) {
    if (pool.health) check(pool.health->password_source);
  }
}

}  // namespace l4lb::config
