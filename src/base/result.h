#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

namespace l4lb::base {

// The errno of a failed system call, with the call's name for the log.
struct SysError {
  int code = 0;
  const char* op = "";

  [[nodiscard]] std::string message() const { return std::string(op) + ": " + std::strerror(code); }
};

// Result of a system call that yields a value: either the value or a SysError.
// "Would block" and EOF are states the caller checks, not errors.
template <typename T>
class [[nodiscard]] SysResult {
 public:
  SysResult(T value)
      : value_(std::move(value)), ok_(true) {}              // NOLINT(google-explicit-constructor)
  SysResult(SysError error) : error_(error), ok_(false) {}  // NOLINT(google-explicit-constructor)

  [[nodiscard]] bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  [[nodiscard]] T& value() & { return value_; }
  [[nodiscard]] T&& value() && { return std::move(value_); }
  [[nodiscard]] const SysError& error() const { return error_; }

 private:
  T value_{};
  SysError error_{};
  bool ok_;
};

inline SysError lastError(const char* op) { return SysError{errno, op}; }

}  // namespace l4lb::base
