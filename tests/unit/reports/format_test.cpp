// Human units, CSV and HTML escaping (reports/format.hpp).
#include "clustersim/reports/format.hpp"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "clustersim/plan/error.hpp"

namespace clustersim::reports {
namespace {

TEST(FormatBytes, PicksBinaryUnits) {
  EXPECT_EQ(format_bytes(std::int64_t{0}), "0 B");
  EXPECT_EQ(format_bytes(std::int64_t{512}), "512 B");
  EXPECT_EQ(format_bytes(std::int64_t{1536}), "1.50 KiB");  // 1536 / 1024
  EXPECT_EQ(format_bytes(std::int64_t{3} << 20), "3.00 MiB");
  EXPECT_EQ(format_bytes(std::int64_t{80} << 30), "80.00 GiB");
  EXPECT_EQ(format_bytes((std::int64_t{5} << 30) / 2, 1), "2.5 GiB");
  EXPECT_EQ(format_bytes(-(std::int64_t{3} << 30)), "-3.00 GiB");
}

TEST(FormatDuration, ThreeSignificantDigitsInTheLargestUnit) {
  EXPECT_EQ(format_duration_ns(0), "0 ns");
  EXPECT_EQ(format_duration_ns(850), "850 ns");
  EXPECT_EQ(format_duration_ns(12345), "12.3 µs");
  EXPECT_EQ(format_duration_ns(4.56e6), "4.56 ms");
  EXPECT_EQ(format_duration_ns(1.234e9), "1.23 s");
  EXPECT_EQ(format_duration_ns(999.7), "1.00 µs");  // rounds up into the next unit
  EXPECT_EQ(format_duration_s(0.0123), "12.3 ms");
  EXPECT_EQ(format_duration_s(750), "12.5 min");
  EXPECT_EQ(format_duration_s(-0.002), "-2.00 ms");
  EXPECT_EQ(format_duration_ns(std::numeric_limits<double>::quiet_NaN()), "n/a");
}

TEST(FormatRate, SiPrefixes) {
  EXPECT_EQ(format_rate(254700, "tokens/s"), "255k tokens/s");
  EXPECT_EQ(format_rate(12.5, "samples/s"), "12.5 samples/s");
  EXPECT_EQ(format_rate(1.5e6, "tokens/s"), "1.50M tokens/s");
  EXPECT_EQ(format_flops_rate(312e12), "312 TFLOP/s");
  EXPECT_EQ(format_flops(1.23e15), "1.23 PFLOP");
  EXPECT_EQ(format_flops(999.9e12), "1.00 PFLOP");
}

TEST(FormatPercent, FractionsAndSignedErrors) {
  EXPECT_EQ(format_percent(0.5123), "51.2%");
  EXPECT_EQ(format_percent(1.0, 0), "100%");
  EXPECT_EQ(format_error_percent(0.042), "+4.2%");
  EXPECT_EQ(format_error_percent(-0.12), "-12.0%");
  EXPECT_EQ(format_error_percent(std::numeric_limits<double>::infinity()), "n/a");
}

TEST(FormatNumber, ThreeSignificantDigits) {
  EXPECT_EQ(format_number(0), "0");
  EXPECT_EQ(format_number(1.2345), "1.23");
  EXPECT_EQ(format_number(65536), "65536");
  EXPECT_EQ(format_number(0.0123), "0.0123");
  EXPECT_EQ(format_number(2.5e7), "2.50e+07");
}

TEST(Csv, EscapesOnlyWhenNeeded) {
  EXPECT_EQ(csv_escape("plain"), "plain");
  EXPECT_EQ(csv_escape("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_escape("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_escape("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(csv_escape(" padded"), "\" padded\"");
  EXPECT_EQ(csv_join({"a", "b,c", ""}), "a,\"b,c\",");
}

TEST(Csv, ParsesWhatItWrites) {
  const std::vector<std::string> fields{"x", "a,b", "say \"hi\"", "two\nlines", "", " padded "};
  const std::string text = csv_join(fields) + "\r\n" + csv_join({"1", "2"}) + "\n";
  const auto rows = csv_parse(text);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], fields);
  EXPECT_EQ(rows[1], (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(csv_parse("a,b").size(), 1u);  // no final line break
  EXPECT_THROW(csv_parse("\"open"), InputError);
}

TEST(Html, EscapesMarkupCharacters) {
  EXPECT_EQ(html_escape("a<b> & \"c\" 'd'"), "a&lt;b&gt; &amp; &quot;c&quot; &#39;d&#39;");
  EXPECT_EQ(html_escape("plain"), "plain");
}

TEST(Json, QuotesStrings) {
  EXPECT_EQ(json_quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
}

}  // namespace
}  // namespace clustersim::reports
