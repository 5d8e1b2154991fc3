#pragma once

#include <cerrno>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace l4lb::base {

// What went wrong: the errno of a failed system call (`code`, `op`), or a failure that is not a
// system call's (`code` 0, said in `context`), with what it was working on, outermost first.
// The one error type of every layer, so a failure deep in net/ reaches the log with the
// listener or backend it concerns and its errno intact.
struct Error {
  int code = 0;         // errno; 0 when no system call failed
  const char* op = "";  // the call or step that failed: static text, never owned
  std::string context;  // "listener web", "backend db1 (tcp://192.0.2.1:5432)", or the failure

  // "context: op: strerror(code)", leaving out the parts that are empty.
  [[nodiscard]] std::string message() const;
  // The same error, said within `outer`: "listener web: bind: Address already in use".
  [[nodiscard]] Error within(std::string_view outer) const&;
  [[nodiscard]] Error within(std::string_view outer) &&;
};

// The system call `op` failed with `code`.
[[nodiscard]] inline Error sysError(int code, const char* op) { return Error{code, op, {}}; }
// The errno of the system call `op` that just failed.
[[nodiscard]] inline Error lastError(const char* op) { return sysError(errno, op); }
// A failure that is not a system call's: `what` is the whole message.
[[nodiscard]] inline Error failure(std::string what) { return Error{0, "", std::move(what)}; }

// Either a value or the Error that kept it from being made. "Would block" and EOF are states
// the caller checks, not errors.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value)
      : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error)
      : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT(google-explicit-constructor)

  [[nodiscard]] bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }
  [[nodiscard]] T& value() & { return std::get<0>(state_); }
  [[nodiscard]] const T& value() const& { return std::get<0>(state_); }
  [[nodiscard]] T&& value() && { return std::get<0>(std::move(state_)); }
  [[nodiscard]] T* operator->() { return &std::get<0>(state_); }
  [[nodiscard]] const T* operator->() const { return &std::get<0>(state_); }
  [[nodiscard]] T& operator*() & { return std::get<0>(state_); }
  [[nodiscard]] const T& operator*() const& { return std::get<0>(state_); }
  [[nodiscard]] const Error& error() const { return std::get<1>(state_); }
  [[nodiscard]] T valueOr(T fallback) const& { return ok() ? value() : std::move(fallback); }
  [[nodiscard]] T valueOr(T fallback) && {
    return ok() ? std::move(*this).value() : std::move(fallback);
  }

 private:
  std::variant<T, Error> state_;
};

// Success carries nothing: `return {};` succeeds, `return lastError("bind");` fails.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  [[nodiscard]] bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  [[nodiscard]] const Error& error() const { return *error_; }

 private:
  std::optional<Error> error_;
};

}  // namespace l4lb::base
