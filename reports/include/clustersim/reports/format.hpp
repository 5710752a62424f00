// Human-readable units and small text utilities shared by every renderer (console table, markdown,
// HTML) and reused by the CLI and the GUI: durations (ns/µs/ms/s), sizes (B/KiB/MiB/GiB),
// rates with SI prefixes, percentages, plus CSV and HTML escaping. Pure functions, no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace clustersim::reports {

// Binary-prefixed size: "0 B", "512 B", "1.50 KiB", "62.41 GiB", "-3.00 MiB" (negative margins).
// `decimals` applies from KiB up; bytes are always whole.
std::string format_bytes(std::int64_t bytes, int decimals = 2);
std::string format_bytes(double bytes, int decimals = 2);

// Duration with three significant digits in the largest fitting unit: "850 ns", "12.3 µs",
// "4.56 ms", "1.23 s", "12.5 min", "3.20 h". Negative durations keep their sign.
std::string format_duration_ns(double ns);
std::string format_duration_s(double seconds);

// A rate with an SI prefix before the unit: format_rate(254700, "tokens/s") -> "255k tokens/s",
// format_rate(12.5, "samples/s") -> "12.5 samples/s". Three significant digits.
std::string format_rate(double per_second, std::string_view unit);

// FLOP counts and rates with SI prefixes glued to the unit: "1.23 PFLOP", "312 TFLOP/s".
std::string format_flops(double flops);
std::string format_flops_rate(double flops_per_second);

// A fraction as a percentage: format_percent(0.5123) -> "51.2%".
std::string format_percent(double fraction, int decimals = 1);

// A signed relative error as a percentage with its sign: "+4.2%", "-12.0%", "n/a" when not finite.
std::string format_error_percent(double relative_error, int decimals = 1);

// A number with three significant digits, no unit: "0.000123", "1.23", "123", "1.23e+06".
std::string format_number(double value);

// --- CSV (RFC 4180) ------------------------------------------------------------------------------

// Quotes a field when it holds a comma, a quote, a line break or leading/trailing blanks;
// quotes inside are doubled. Other fields come back unchanged.
std::string csv_escape(std::string_view field);
// One CSV line from fields, each escaped, joined by commas (no line break at the end).
std::string csv_join(const std::vector<std::string>& fields);
// Parses CSV text into rows of fields (quoted fields may hold commas, quotes and line breaks;
// "\r\n" and "\n" both end a row; a final line break does not add an empty row).
// Throws InputError("csv", ...) on an unterminated quote.
std::vector<std::vector<std::string>> csv_parse(std::string_view text);

// --- HTML / XML ----------------------------------------------------------------------------------

// Escapes &, <, >, " and ' so any text is safe in element content and attribute values.
std::string html_escape(std::string_view text);

// --- JSON ----------------------------------------------------------------------------------------

// A JSON string literal (with the quotes) for `text`, escaped per RFC 8259.
std::string json_quote(std::string_view text);

}  // namespace clustersim::reports
