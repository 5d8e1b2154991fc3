#include "config/toml_guard.h"

namespace l4lb::config {

namespace {

class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {
    // toml++ skips a UTF-8 byte order mark; so must the columns.
    if (text_.starts_with("\xEF\xBB\xBF")) i_ = 3;
  }

  std::optional<TomlGuardError> run() {
    while (i_ < text_.size()) {
      const char c = text_[i_];
      if (c == '#') {
        skipComment();
      } else if (c == '"' || c == '\'') {
        if (auto error = skipString(c)) return error;
      } else if (static_cast<unsigned char>(c) >= 0x80) {
        return fail("non-ASCII character outside a string or comment");
      } else {
        advance();
      }
    }
    return std::nullopt;
  }

 private:
  bool at(std::string_view s) const { return text_.substr(i_).starts_with(s); }

  void advance() {
    const auto c = static_cast<unsigned char>(text_[i_++]);
    if (c == '\n') {
      ++line_;
      column_ = 1;
    } else if ((c & 0xC0) != 0x80) {
      ++column_;  // columns count characters, as toml++ does, not UTF-8 bytes
    }
  }

  TomlGuardError fail(std::string_view why) const {
    return TomlGuardError{.pos = {.line = line_, .column = column_, .file = nullptr},
                          .message = "TOML syntax error: " + std::string(why)};
  }

  void skipComment() {
    while (i_ < text_.size() && text_[i_] != '\n') advance();
  }

  std::optional<TomlGuardError> skipString(char quote) {
    const std::string triple(3, quote);
    if (!at(triple)) {
      // Single-line: ends at the closing quote, or (an error toml++ reports) the line's end.
      advance();
      while (i_ < text_.size() && text_[i_] != quote && text_[i_] != '\n') {
        if (quote == '"' && text_[i_] == '\\' && i_ + 1 < text_.size() && text_[i_ + 1] != '\n') {
          advance();
        }
        advance();
      }
      if (i_ < text_.size() && text_[i_] == quote) advance();
      return std::nullopt;
    }
    for (int k = 0; k < 3; ++k) advance();
    while (i_ < text_.size()) {
      if (at(triple)) {
        // A run of up to five quotes closes the string; the first one or two are content.
        for (int k = 0; k < 5 && i_ < text_.size() && text_[i_] == quote; ++k) advance();
        return std::nullopt;
      }
      if (quote == '"' && text_[i_] == '\\') {
        advance();
        // After a backslash toml++ asks whether the next character is whitespace, and keeps
        // asking through a line-ending backslash's run of whitespace.
        const std::size_t escape_at = i_;
        while (i_ < text_.size() &&
               (text_[i_] == ' ' || text_[i_] == '\t' || text_[i_] == '\r' || text_[i_] == '\n')) {
          advance();
        }
        if (i_ < text_.size() && static_cast<unsigned char>(text_[i_]) >= 0x80) {
          return fail(
              "a non-ASCII character right after a backslash in a multi-line string is not "
              "supported; write it as a \\uXXXX escape");
        }
        // With no whitespace between, the character is the escaped one (\" is not a closing
        // quote); after a line-ending backslash it is ordinary content, read on the next pass.
        if (i_ == escape_at && i_ < text_.size()) advance();
        continue;
      }
      advance();
    }
    return std::nullopt;
  }

  std::string_view text_;
  std::size_t i_ = 0;
  std::uint32_t line_ = 1;
  std::uint32_t column_ = 1;
};

}  // namespace

std::optional<TomlGuardError> findTextTomlppMishandles(std::string_view text) {
  return Scanner(text).run();
}

}  // namespace l4lb::config
