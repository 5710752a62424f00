// The self-contained HTML report (reports/html.hpp): structure, one rect per op span, escaping,
// down-sampling of large timelines and the comparison section.
#include "clustersim/reports/html.hpp"

#include <sstream>

#include <gtest/gtest.h>

#include "sample_traces.hpp"

namespace clustersim::reports {
namespace {

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + what.size())) ++n;
  return n;
}

std::string html(const plan::Trace& t, const ReportContext& context = {}, const Comparison* comparison = nullptr,
                 const HtmlOptions& options = {}) {
  std::ostringstream out;
  write_html_report(t, context, out, comparison, options);
  return out.str();
}

TEST(HtmlReport, SelfContainedDocument) {
  const std::string s = html(testing::predicted_trace(), {"Tiny run", {{"model", "tiny"}}});
  EXPECT_EQ(s.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(s.find("</html>"), std::string::npos);
  EXPECT_NE(s.find("<style>"), std::string::npos);
  EXPECT_EQ(s.find("<script"), std::string::npos);
  EXPECT_EQ(s.find("http://"), s.find("http://www.w3.org/2000/svg"));  // only the SVG namespace
  EXPECT_EQ(s.find("https://"), std::string::npos);
  EXPECT_GE(count(s, "<svg"), 3u);  // memory, timeline, communication
  EXPECT_EQ(count(s, "<svg"), count(s, "</svg>"));
  EXPECT_NE(s.find("Tiny run"), std::string::npos);
}

TEST(HtmlReport, OneRectPerOpSpan) {
  const std::string s = html(testing::predicted_trace());
  EXPECT_EQ(count(s, "<rect class=\"op\""), 6u);
  EXPECT_EQ(count(s, "<rect class=\"mem\""), 3u);   // weight, grad, activation at the peak
  EXPECT_EQ(count(s, "<rect class=\"comm\""), 2u);  // dp all-reduce: time and exposed part
  const std::string m = html(testing::measured_trace());
  EXPECT_EQ(count(m, "<rect class=\"op\""), 36u);
}

TEST(HtmlReport, EscapesNames) {
  plan::Trace t = testing::predicted_trace();
  t.programs[0].ops[0].name = "x<y>&z";
  const std::string s = html(t, {"a <b> & c", {{"note", "\"quoted\""}}});
  EXPECT_NE(s.find("x&lt;y&gt;&amp;z"), std::string::npos);
  EXPECT_EQ(s.find("x<y>&z"), std::string::npos);
  EXPECT_NE(s.find("a &lt;b&gt; &amp; c"), std::string::npos);
  EXPECT_EQ(s.find("a <b> & c"), std::string::npos);
  EXPECT_NE(s.find("&quot;quoted&quot;"), std::string::npos);
}

TEST(HtmlReport, DownsamplesLargeTimelines) {
  plan::Trace t = testing::predicted_trace();
  t.ops.clear();
  // 2000 back-to-back gemm spans of 10 ns with 1 ns gaps on the compute stream.
  for (std::int32_t i = 0; i < 2000; ++i) testing::add_span(t, 0, 0, 0, 0, i * 11, i * 11 + 10);
  HtmlOptions options;
  options.max_timeline_rects = 100;
  const std::string s = html(t, {}, nullptr, options);
  const std::size_t rects = count(s, "<rect class=\"op\"");
  EXPECT_GT(rects, 0u);
  EXPECT_LE(rects, 100u);
  EXPECT_NE(s.find("merged"), std::string::npos);
  options.max_timeline_rects = 5000;
  EXPECT_EQ(count(html(t, {}, nullptr, options), "<rect class=\"op\""), 2000u);
}

TEST(HtmlReport, ComparisonSection) {
  const Comparison c = compare(testing::predicted_trace(), testing::measured_trace());
  const std::string s = html(testing::measured_trace(), {}, &c);
  EXPECT_NE(s.find("Predicted vs measured"), std::string::npos);
  EXPECT_NE(s.find("FAIL"), std::string::npos);
  // Paired bars: step time plus 6 classes (gemm, attention, memory, optimizer, all-reduce, idle).
  EXPECT_EQ(count(s, "<rect class=\"cmp\""), 2u * 7u);
  EXPECT_NE(s.find("-17.9%"), std::string::npos);  // gemm error
  EXPECT_EQ(html(testing::measured_trace()).find("Predicted vs measured"), std::string::npos);
}

}  // namespace
}  // namespace clustersim::reports
