// Private to reports: aligned plain-text columns for the console renderers (report and comparison
// tables). Widths count UTF-8 code points, so "µs" aligns like "ms".
#pragma once

#include <cstddef>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace clustersim::reports::detail {

// Columns shown on a terminal: UTF-8 continuation bytes and ANSI escape sequences take no room.
std::size_t display_width(std::string_view text);

class TextTable {
 public:
  enum class Align { left, right };
  explicit TextTable(std::vector<Align> align, std::string indent = "  ", std::string gap = "  ")
      : align_(std::move(align)), indent_(std::move(indent)), gap_(std::move(gap)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.empty(); }
  // Writes every row, cells padded to the widest in their column, trailing blanks trimmed.
  void write(std::ostream& out) const;

 private:
  std::vector<Align> align_;
  std::string indent_, gap_;
  std::vector<std::vector<std::string>> rows_;
};

// ANSI styling that collapses to plain text when `enabled` is false.
struct Style {
  bool enabled = false;
  std::string bold(std::string_view s) const { return wrap("\033[1m", s); }
  std::string green(std::string_view s) const { return wrap("\033[32m", s); }
  std::string red(std::string_view s) const { return wrap("\033[31m", s); }
  std::string dim(std::string_view s) const { return wrap("\033[2m", s); }

 private:
  std::string wrap(std::string_view code, std::string_view s) const {
    if (!enabled) return std::string(s);
    return std::string(code) + std::string(s) + "\033[0m";
  }
};

}  // namespace clustersim::reports::detail
