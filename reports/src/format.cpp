// Human units, CSV and HTML escaping for the renderers (see format.hpp for the contract).
#include "clustersim/reports/format.hpp"

#include <array>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "clustersim/plan/error.hpp"

namespace clustersim::reports {

namespace {

// Rounds to three significant digits, so the unit is chosen on the value that will be printed.
double round_significant3(double v) {
  if (v == 0.0 || !std::isfinite(v)) return v;
  const double magnitude = std::floor(std::log10(std::fabs(v)));
  const double scale = std::pow(10.0, 2.0 - magnitude);
  return std::round(v * scale) / scale;
}

// Three significant digits for a value already scaled to its unit.
std::string significant3(double v) {
  const double a = std::fabs(v);
  if (a == 0.0) return "0";
  const int decimals = a < 10.0 ? 2 : a < 100.0 ? 1 : 0;
  return fmt::format("{:.{}f}", v, decimals);
}

struct Prefixed {
  double value;
  std::string_view prefix;
};

// Picks the SI prefix (none, k, M, G, T, P, E) for v.
Prefixed si_prefix(double v) {
  static constexpr std::array<std::string_view, 7> prefixes{"", "k", "M", "G", "T", "P", "E"};
  double r = round_significant3(v);
  std::size_t i = 0;
  while (std::fabs(r) >= 1000.0 && i + 1 < prefixes.size()) {
    r /= 1000.0;
    ++i;
  }
  return {round_significant3(r), prefixes[i]};
}

}  // namespace

std::string format_bytes(std::int64_t bytes, int decimals) {
  static constexpr std::array<std::string_view, 6> units{"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  const double a = std::fabs(static_cast<double>(bytes));
  if (a < 1024.0) return fmt::format("{} B", bytes);
  double v = static_cast<double>(bytes);
  std::size_t i = 0;
  while (std::fabs(v) >= 1024.0 && i + 1 < units.size()) {
    v /= 1024.0;
    ++i;
  }
  return fmt::format("{:.{}f} {}", v, decimals, units[i]);
}

std::string format_bytes(double bytes, int decimals) {
  if (!std::isfinite(bytes)) return "n/a";
  return format_bytes(static_cast<std::int64_t>(std::llround(bytes)), decimals);
}

std::string format_duration_ns(double ns) {
  if (!std::isfinite(ns)) return "n/a";
  if (ns == 0.0) return "0 ns";
  const double r = round_significant3(ns);
  const double a = std::fabs(r);
  if (a < 1e3) return significant3(r) + " ns";
  if (a < 1e6) return significant3(round_significant3(r / 1e3)) + " µs";
  if (a < 1e9) return significant3(round_significant3(r / 1e6)) + " ms";
  if (a < 120e9) return significant3(round_significant3(r / 1e9)) + " s";
  if (a < 7200e9) return significant3(round_significant3(r / 60e9)) + " min";
  return significant3(round_significant3(r / 3600e9)) + " h";
}

std::string format_duration_s(double seconds) {
  return format_duration_ns(seconds * 1e9);
}

std::string format_rate(double per_second, std::string_view unit) {
  if (!std::isfinite(per_second)) return "n/a";
  const Prefixed p = si_prefix(per_second);
  if (p.prefix.empty()) return fmt::format("{} {}", significant3(p.value), unit);
  return fmt::format("{}{} {}", significant3(p.value), p.prefix, unit);
}

std::string format_flops(double flops) {
  if (!std::isfinite(flops)) return "n/a";
  const Prefixed p = si_prefix(flops);
  return fmt::format("{} {}FLOP", significant3(p.value), p.prefix);
}

std::string format_flops_rate(double flops_per_second) {
  if (!std::isfinite(flops_per_second)) return "n/a";
  return format_flops(flops_per_second) + "/s";
}

std::string format_percent(double fraction, int decimals) {
  if (!std::isfinite(fraction)) return "n/a";
  return fmt::format("{:.{}f}%", fraction * 100.0, decimals);
}

std::string format_error_percent(double relative_error, int decimals) {
  if (!std::isfinite(relative_error)) return "n/a";
  return fmt::format("{:+.{}f}%", relative_error * 100.0, decimals);
}

std::string format_number(double value) {
  if (!std::isfinite(value)) return "n/a";
  if (value == 0.0) return "0";
  const double a = std::fabs(value);
  if (a >= 1e6 || a < 1e-3) return fmt::format("{:.2e}", value);
  if (a >= 100.0) return fmt::format("{:.0f}", value);
  // Three significant digits without trailing zeros beyond them.
  const int decimals = static_cast<int>(2.0 - std::floor(std::log10(a)));
  return fmt::format("{:.{}f}", value, decimals);
}

// --- CSV ------------------------------------------------------------------------------------------

std::string csv_escape(std::string_view field) {
  const bool needs_quotes = field.find_first_of(",\"\r\n") != std::string_view::npos ||
                            (!field.empty() && (field.front() == ' ' || field.front() == '\t' || field.back() == ' ' ||
                                                field.back() == '\t'));
  if (!needs_quotes) return std::string(field);
  std::string out;
  out.reserve(field.size() + 2);
  out += '"';
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string csv_join(const std::vector<std::string>& fields) {
  std::string out;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out += ',';
    out += csv_escape(fields[i]);
  }
  return out;
}

std::vector<std::vector<std::string>> csv_parse(std::string_view text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;
  bool row_open = false;  // something (a field or a separator) was read on the current row
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        field += c;
      }
      continue;
    }
    if (c == '"') {
      quoted = true;
      row_open = true;
    } else if (c == ',') {
      row.push_back(std::move(field));
      field.clear();
      row_open = true;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      row.push_back(std::move(field));
      field.clear();
      rows.push_back(std::move(row));
      row.clear();
      row_open = false;
    } else {
      field += c;
      row_open = true;
    }
  }
  if (quoted) throw InputError("csv", "an unterminated quoted field", "fields closed by a double quote");
  if (row_open) {
    row.push_back(std::move(field));
    rows.push_back(std::move(row));
  }
  return rows;
}

// --- HTML -----------------------------------------------------------------------------------------

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// --- JSON -----------------------------------------------------------------------------------------

std::string json_quote(std::string_view text) {
  return nlohmann::json(std::string(text)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace clustersim::reports
