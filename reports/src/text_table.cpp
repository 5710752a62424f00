// Aligned plain-text columns for the console renderers (see text_table.hpp).
#include "text_table.hpp"

#include <algorithm>
#include <cctype>

namespace clustersim::reports::detail {

std::size_t display_width(std::string_view text) {
  std::size_t width = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == 0x1b) {  // ANSI CSI sequence: ESC [ ... letter
      while (i < text.size() && !std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
      continue;
    }
    if ((c & 0xC0) != 0x80) ++width;
  }
  return width;
}

void TextTable::write(std::ostream& out) const {
  std::vector<std::size_t> widths;
  for (const auto& row : rows_) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (std::size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], display_width(row[c]));
  }
  for (const auto& row : rows_) {
    std::string line = indent_;
    for (std::size_t c = 0; c < row.size(); ++c) {
      const Align a = c < align_.size() ? align_[c] : Align::left;
      const std::size_t pad = widths[c] - display_width(row[c]);
      if (c > 0) line += gap_;
      if (a == Align::right) line.append(pad, ' ');
      line += row[c];
      if (a == Align::left && c + 1 < row.size()) line.append(pad, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << '\n';
  }
}

}  // namespace clustersim::reports::detail
