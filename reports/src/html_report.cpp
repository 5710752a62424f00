// The self-contained HTML report: inline CSS and SVG charts, no scripts (see html.hpp).
#include "clustersim/reports/html.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "clustersim/reports/analysis.hpp"
#include "clustersim/reports/format.hpp"
#include "clustersim/reports/table.hpp"
#include "trace_index.hpp"

namespace clustersim::reports {

namespace {

constexpr const char* kCss = R"(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1160px;
color:#222;padding:0 16px}
h1{font-size:22px;margin:0 0 8px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;margin:6px 0}td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:left}
th{background:#f6f6f6;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.facts td:first-child{color:#666}.cards{display:flex;flex-wrap:wrap;gap:10px;margin:10px 0}
.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:130px}.card .k{color:#666;font-size:12px}
.card .v{font-size:18px;font-weight:600}.ok{color:#1a7f37}.bad{color:#c62828}
.legend span{display:inline-block;margin-right:14px;font-size:12px}
.legend i{display:inline-block;width:11px;height:11px;margin-right:4px;vertical-align:-1px}
svg text{font:11px system-ui,sans-serif;fill:#333}.note{color:#666;font-size:12px}
)";

std::string px(double v) {
  return fmt::format("{:.2f}", v);
}

std::string class_color(const std::string& c) {
  static const std::map<std::string, std::string> fixed{
      {"gemm", "#4e79a7"},      {"attention", "#f28e2b"}, {"conv", "#76b7b2"},  {"memory", "#59a14f"},
      {"optimizer", "#edc948"}, {"io", "#9c755f"},        {"delay", "#bab0ac"}, {"idle", "#d0d0d0"}};
  if (const auto it = fixed.find(c); it != fixed.end()) return it->second;
  static const std::map<GroupKind, std::string> groups{
      {GroupKind::dp, "#e15759"}, {GroupKind::tp, "#ff9da7"},    {GroupKind::pp, "#b07aa1"}, {GroupKind::cp, "#d37295"},
      {GroupKind::ep, "#f1a2c8"}, {GroupKind::world, "#8cd17d"}, {GroupKind::fl, "#86bcb6"}};
  if (const auto g = comm_group_of_class(c)) return groups.at(*g);
  return "#79706e";
}

std::string role_color(TensorRole role) {
  static const std::vector<std::string> palette{"#4e79a7", "#a0cbe8", "#f28e2b", "#ffbe7d", "#59a14f", "#8cd17d",
                                                "#b6992d", "#e15759", "#79706e", "#b07aa1", "#9c755f"};
  return palette[static_cast<std::size_t>(role) % palette.size()];
}

// A "nice" axis step (1, 2 or 5 times a power of ten) giving about `ticks` ticks over `range`.
double nice_step(double range, int ticks) {
  if (range <= 0.0) return 1.0;
  const double raw = range / ticks;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / p;
  return (f < 1.5 ? 1.0 : f < 3.5 ? 2.0 : f < 7.5 ? 5.0 : 10.0) * p;
}

void legend(std::ostream& out, const std::vector<std::pair<std::string, std::string>>& items) {
  out << "<div class=\"legend\">";
  for (const auto& [label, color] : items)
    out << "<span><i style=\"background:" << color << "\"></i>" << html_escape(label) << "</span>";
  out << "</div>\n";
}

void header(const plan::Trace& trace, const ReportContext& context, std::ostream& out) {
  out << "<h1>" << html_escape(context.title.empty() ? default_title(trace) : context.title) << "</h1>\n";
  out << "<table class=\"facts\">\n";
  std::vector<std::pair<std::string, std::string>> facts{
      {"scenario", trace.scenario},
      {"hardware", trace.hardware},
      {"backend", trace.backend},
      {"source", trace.source == plan::TraceSource::simulated ? "simulated" : "measured"}};
  facts.insert(facts.end(), context.facts.begin(), context.facts.end());
  for (const auto& [k, v] : facts)
    if (!v.empty()) out << "<tr><td>" << html_escape(k) << "</td><td>" << html_escape(v) << "</td></tr>\n";
  out << "</table>\n";
}

void summary_cards(const plan::Trace& trace, std::ostream& out) {
  const plan::Summary& s = trace.summary;
  std::vector<std::pair<std::string, std::string>> cards{{"step time", format_duration_s(s.step_time_s)}};
  if (s.tokens_per_s > 0.0) cards.emplace_back("throughput", format_rate(s.tokens_per_s, "tokens/s"));
  if (s.samples_per_s > 0.0) cards.emplace_back("samples", format_rate(s.samples_per_s, "samples/s"));
  cards.emplace_back("MFU", format_percent(s.mfu));
  cards.emplace_back("HFU", format_percent(s.hfu));
  cards.emplace_back("compute", format_duration_s(s.compute_time_s));
  cards.emplace_back("exposed comm", format_duration_s(s.exposed_comm_s));
  cards.emplace_back("bubble", format_percent(s.bubble_fraction));
  out << "<h2>Summary</h2>\n<div class=\"cards\">";
  for (const auto& [k, v] : cards)
    out << "<div class=\"card\"><div class=\"k\">" << html_escape(k) << "</div><div class=\"v\">" << html_escape(v)
        << "</div></div>";
  const std::string verdict = s.fits ? "<span class=\"ok\">fits</span>" : "<span class=\"bad\">DOES NOT FIT</span>";
  out << "<div class=\"card\"><div class=\"k\">peak memory</div><div class=\"v\">" << format_bytes(s.peak_memory_bytes)
      << "</div><div class=\"k\">of " << format_bytes(s.capacity_bytes) << ": " << verdict << "</div></div>";
  out << "</div>\n";
}

void memory_chart(const plan::Trace& trace, const HtmlOptions& options, std::ostream& out) {
  out << "<h2>Memory at peak per rank</h2>\n";
  if (trace.memory.empty()) {
    out << "<p class=\"note\">No memory records.</p>\n";
    return;
  }
  std::vector<const plan::RankMemory*> rows;
  for (const auto& m : trace.memory) rows.push_back(&m);
  std::stable_sort(rows.begin(), rows.end(), [](auto* a, auto* b) { return a->peak_bytes > b->peak_bytes; });
  const std::size_t shown = std::min(rows.size(), std::max<std::size_t>(1, options.max_memory_rows));
  rows.resize(shown);
  std::stable_sort(rows.begin(), rows.end(), [](auto* a, auto* b) { return a->rank < b->rank; });
  double scale_max = 1.0;
  for (const auto* m : rows)
    scale_max = std::max({scale_max, static_cast<double>(m->peak_bytes), static_cast<double>(m->capacity_bytes)});
  const double label_w = 70.0, right_w = 170.0, row_h = 22.0;
  const double bar_w = options.width_px - label_w - right_w;
  const double height = row_h * static_cast<double>(rows.size()) + 10.0;
  out << fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" role=\"img\">\n",
                     options.width_px, px(height));
  std::set<TensorRole> used_roles;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const plan::RankMemory& m = *rows[r];
    const double y = 5.0 + row_h * static_cast<double>(r);
    out << "<text x=\"0\" y=\"" << px(y + 14) << "\">rank " << m.rank << "</text>\n";
    double x = label_w;
    for (const auto& [role, bytes] : m.at_peak) {
      if (bytes <= 0) continue;
      used_roles.insert(role);
      const double w = bar_w * static_cast<double>(bytes) / scale_max;
      out << "<rect class=\"mem\" x=\"" << px(x) << "\" y=\"" << px(y) << "\" width=\"" << px(w) << "\" height=\""
          << px(row_h - 6) << "\" fill=\"" << role_color(role) << "\"><title>rank " << m.rank << ": "
          << html_escape(role_label(role)) << " " << format_bytes(bytes) << "</title></rect>\n";
      x += w;
    }
    if (m.capacity_bytes > 0) {
      const double cx = label_w + bar_w * static_cast<double>(m.capacity_bytes) / scale_max;
      out << "<line x1=\"" << px(cx) << "\" x2=\"" << px(cx) << "\" y1=\"" << px(y - 2) << "\" y2=\""
          << px(y + row_h - 4) << "\" stroke=\"#c62828\" stroke-width=\"2\"><title>capacity "
          << format_bytes(m.capacity_bytes) << "</title></line>\n";
    }
    out << "<text x=\"" << px(label_w + bar_w + 8) << "\" y=\"" << px(y + 14) << "\""
        << (m.fits ? "" : " style=\"fill:#c62828\"") << ">" << format_bytes(m.peak_bytes) << " / "
        << format_bytes(m.capacity_bytes) << (m.fits ? "" : " DOES NOT FIT") << "</text>\n";
  }
  out << "</svg>\n";
  std::vector<std::pair<std::string, std::string>> items;
  for (TensorRole role : used_roles) items.emplace_back(role_label(role), role_color(role));
  items.emplace_back("capacity", "#c62828");
  legend(out, items);
  if (shown < trace.memory.size())
    out << "<p class=\"note\">" << shown << " of " << trace.memory.size() << " ranks shown (highest peaks).</p>\n";
}

struct Segment {
  std::int64_t start_ns = 0, end_ns = 0;
  std::size_t op_class = 0;  // index into the class list
  std::string name;
  std::int64_t ops = 1;
};

struct TimelineRow {
  std::string label;
  std::vector<Segment> segments;  // ascending start
};

// Merges neighbours of one class closer than `gap_ns`.
std::vector<Segment> merge_segments(const std::vector<Segment>& in, double gap_ns) {
  std::vector<Segment> out;
  for (const Segment& s : in) {
    if (!out.empty() && out.back().op_class == s.op_class &&
        static_cast<double>(s.start_ns - out.back().end_ns) <= gap_ns) {
      out.back().end_ns = std::max(out.back().end_ns, s.end_ns);
      out.back().ops += s.ops;
      continue;
    }
    out.push_back(s);
  }
  return out;
}

void timeline_chart(const plan::Trace& trace, const HtmlOptions& options, std::ostream& out) {
  out << "<h2>Timeline</h2>\n";
  if (trace.ops.empty()) {
    out << "<p class=\"note\">No op spans.</p>\n";
    return;
  }
  const detail::TraceIndex index(trace, "trace");
  std::vector<std::string> classes;
  std::map<std::string, std::size_t> class_index;
  std::vector<TimelineRow> rows;
  std::int64_t t0 = trace.ops.front().start_ns, t1 = trace.ops.front().end_ns;
  std::size_t rows_total = 0;
  for (std::size_t slot = 0; slot < index.slots(); ++slot) {
    std::map<std::int16_t, std::vector<Segment>> by_stream;
    for (std::size_t i : index.spans(slot)) {
      const plan::OpSpan& span = trace.ops[i];
      const plan::OpInfo& op = index.op_of(span);
      auto [it, inserted] = class_index.try_emplace(op.op_class, classes.size());
      if (inserted) classes.push_back(op.op_class);
      by_stream[span.stream].push_back({span.start_ns, span.end_ns, it->second, op.name, 1});
      t0 = std::min(t0, span.start_ns);
      t1 = std::max(t1, span.end_ns);
    }
    const plan::ProgramInfo* program = index.program(slot);
    for (auto& [stream, segments] : by_stream) {
      ++rows_total;
      if (rows.size() >= options.max_timeline_rows) continue;
      std::stable_sort(segments.begin(), segments.end(),
                       [](const Segment& a, const Segment& b) { return a.start_ns < b.start_ns; });
      const std::string stream_name = program && static_cast<std::size_t>(stream) < program->streams.size()
                                          ? program->streams[static_cast<std::size_t>(stream)]
                                          : fmt::format("stream {}", stream);
      rows.push_back({fmt::format("rank {} {}", index.rank(slot), stream_name), std::move(segments)});
    }
  }
  const double label_w = 150.0, row_h = 18.0, axis_h = 22.0;
  const double chart_w = options.width_px - label_w - 10.0;
  const double span_ns = std::max<double>(1.0, static_cast<double>(t1 - t0));
  const double ns_per_px = span_ns / chart_w;

  // Downsample: merge same-class neighbours closer than a growing gap until the budget holds.
  std::size_t total = 0;
  for (const auto& r : rows) total += r.segments.size();
  std::vector<std::vector<Segment>> drawn;
  drawn.reserve(rows.size());
  bool merged = false;
  if (total <= options.max_timeline_rects) {
    for (auto& r : rows) drawn.push_back(std::move(r.segments));
  } else {
    merged = true;
    double gap = ns_per_px;
    for (int attempt = 0; attempt < 60; ++attempt, gap *= 2.0) {
      drawn.clear();
      std::size_t count = 0;
      for (const auto& r : rows) {
        drawn.push_back(merge_segments(r.segments, gap));
        count += drawn.back().size();
      }
      if (count <= options.max_timeline_rects) break;
    }
  }

  const double height = axis_h + row_h * static_cast<double>(rows.size()) + 4.0;
  out << fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" role=\"img\">\n",
                     options.width_px, px(height));
  // Time axis.
  const double step = nice_step(span_ns, 8);
  for (double t = 0.0; t <= span_ns + 1e-9; t += step) {
    const double x = label_w + t / ns_per_px;
    out << "<line x1=\"" << px(x) << "\" x2=\"" << px(x) << "\" y1=\"" << px(axis_h - 4) << "\" y2=\"" << px(height)
        << "\" stroke=\"#eee\"/>";
    if (x + 50.0 <= options.width_px)
      out << "<text x=\"" << px(x + 2) << "\" y=\"12\">" << html_escape(format_duration_ns(t)) << "</text>";
    out << '\n';
  }
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const double y = axis_h + row_h * static_cast<double>(r);
    out << "<text x=\"0\" y=\"" << px(y + 12) << "\">" << html_escape(rows[r].label) << "</text>\n";
    for (const Segment& s : drawn[r]) {
      const double x = label_w + static_cast<double>(s.start_ns - t0) / ns_per_px;
      const double w = std::max(0.3, static_cast<double>(s.end_ns - s.start_ns) / ns_per_px);
      const std::string& cls = classes[s.op_class];
      out << "<rect class=\"op\" x=\"" << px(x) << "\" y=\"" << px(y + 2) << "\" width=\"" << px(w) << "\" height=\""
          << px(row_h - 4) << "\" fill=\"" << class_color(cls) << "\"><title>";
      if (s.ops == 1)
        out << html_escape(s.name) << " (" << html_escape(cls) << ") "
            << html_escape(format_duration_ns(static_cast<double>(s.end_ns - s.start_ns)));
      else
        out << s.ops << " ops of class " << html_escape(cls) << " over "
            << html_escape(format_duration_ns(static_cast<double>(s.end_ns - s.start_ns)));
      out << "</title></rect>\n";
    }
  }
  out << "</svg>\n";
  std::vector<std::pair<std::string, std::string>> items;
  for (const auto& c : classes) items.emplace_back(c, class_color(c));
  legend(out, items);
  if (merged)
    out << "<p class=\"note\">" << total << " op spans drawn as fewer rects: neighbours of one class merged.</p>\n";
  if (rows.size() < rows_total)
    out << "<p class=\"note\">" << rows.size() << " of " << rows_total << " rank/stream rows shown.</p>\n";
}

// Horizontal bars: one row per label, each with up to two overlaid values (full and highlighted part).
struct Bar {
  std::string label;
  std::vector<std::pair<double, std::string>> values;  // value, color; drawn as stacked rows
  std::string text;                                    // right-hand annotation
};

void bar_chart(const std::vector<Bar>& bars, const std::string& css_class, const HtmlOptions& options,
               std::ostream& out) {
  double vmax = 0.0;
  for (const auto& b : bars)
    for (const auto& [v, color] : b.values) vmax = std::max(vmax, v);
  if (vmax <= 0.0) vmax = 1.0;
  const double label_w = 190.0, right_w = 260.0, sub_h = 12.0, gap = 8.0;
  const double bar_w = options.width_px - label_w - right_w;
  double y = 4.0;
  std::string body;
  for (const auto& b : bars) {
    const double h = sub_h * static_cast<double>(std::max<std::size_t>(1, b.values.size()));
    body += "<text x=\"0\" y=\"" + px(y + h / 2 + 4) + "\">" + html_escape(b.label) + "</text>\n";
    for (std::size_t i = 0; i < b.values.size(); ++i) {
      const double w = bar_w * b.values[i].first / vmax;
      body += "<rect class=\"" + css_class + "\" x=\"" + px(label_w) + "\" y=\"" +
              px(y + sub_h * static_cast<double>(i)) + "\" width=\"" + px(w) + "\" height=\"" + px(sub_h - 1) +
              "\" fill=\"" + b.values[i].second + "\"/>\n";
    }
    body += "<text x=\"" + px(label_w + bar_w + 8) + "\" y=\"" + px(y + h / 2 + 4) + "\">" + html_escape(b.text) +
            "</text>\n";
    y += h + gap;
  }
  out << fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" role=\"img\">\n",
                     options.width_px, px(y))
      << body << "</svg>\n";
}

void comm_chart(const plan::Trace& trace, const HtmlOptions& options, std::ostream& out) {
  out << "<h2>Communication per step</h2>\n";
  const auto comm = comm_by_group_type(trace);
  if (comm.empty()) {
    out << "<p class=\"note\">No communication.</p>\n";
    return;
  }
  std::vector<Bar> bars;
  for (const auto& c : comm) {
    const std::string cls = fmt::format("comm:{}:{}", to_string(c.group), c.type);
    bars.push_back({fmt::format("{} {}", to_string(c.group), c.type),
                    {{c.time_s, class_color(cls)}, {c.exposed_s, "#7f1d1d"}},
                    fmt::format("{} × {}, {}, exposed {}", c.count, format_bytes(c.bytes), format_duration_s(c.time_s),
                                format_duration_s(c.exposed_s))});
  }
  bar_chart(bars, "comm", options, out);
  legend(out, {{"time", "#e15759"}, {"exposed (compute idle)", "#7f1d1d"}});
}

void comparison_section(const Comparison& c, const HtmlOptions& options, std::ostream& out) {
  out << "<h2>Predicted vs measured</h2>\n<p><b>Result: "
      << (c.passed ? "<span class=\"ok\">PASS</span>" : "<span class=\"bad\">FAIL</span>") << "</b> &middot; "
      << html_escape(c.predicted_backend) << " vs " << html_escape(c.measured_backend) << " &middot; "
      << c.steps_used.size() << " step(s) averaged, " << c.steps_skipped << " warm-up skipped</p>\n";
  std::vector<Bar> bars;
  bars.push_back({"step time",
                  {{c.step_time.predicted, "#4e79a7"}, {c.step_time.measured, "#f28e2b"}},
                  fmt::format("{} vs {} ({})", format_duration_s(c.step_time.predicted),
                              format_duration_s(c.step_time.measured), format_error_percent(c.step_time.error))});
  for (const auto& m : c.classes)
    bars.push_back({m.name,
                    {{m.predicted, "#4e79a7"}, {m.measured, "#f28e2b"}},
                    fmt::format("{} vs {} ({})", format_duration_s(m.predicted), format_duration_s(m.measured),
                                format_error_percent(m.error))});
  bar_chart(bars, "cmp", options, out);
  legend(out, {{"predicted", "#4e79a7"}, {"measured", "#f28e2b"}});

  out << "<table><tr><th>check</th><th class=\"n\">predicted</th><th class=\"n\">measured</th><th "
         "class=\"n\">error</th>"
         "<th class=\"n\">tolerance</th><th>result</th></tr>\n";
  for (const auto& k : c.checks) {
    const auto value = [&](double v) { return k.unit == "bytes" ? format_bytes(v) : format_duration_s(v); };
    out << "<tr><td>" << html_escape(k.name) << "</td><td class=\"n\">" << value(k.predicted) << "</td><td class=\"n\">"
        << value(k.measured) << "</td><td class=\"n\">" << format_error_percent(k.error) << "</td><td class=\"n\">±"
        << format_percent(k.tolerance) << "</td><td>"
        << (k.passed ? "<span class=\"ok\">pass</span>" : "<span class=\"bad\">FAIL</span>") << "</td></tr>\n";
  }
  out << "</table>\n";

  out << "<table><tr><th>metric (per step and rank)</th><th class=\"n\">predicted</th><th class=\"n\">measured</th>"
         "<th class=\"n\">error</th></tr>\n";
  const auto row = [&](const std::string& name, const std::string& p, const std::string& m, double e) {
    out << "<tr><td>" << html_escape(name) << "</td><td class=\"n\">" << p << "</td><td class=\"n\">" << m
        << "</td><td class=\"n\">" << format_error_percent(e) << "</td></tr>\n";
  };
  for (const auto& m : c.classes) row(m.name, format_duration_s(m.predicted), format_duration_s(m.measured), m.error);
  for (const auto& m : c.comm_groups)
    row("comm " + m.name + " (all)", format_duration_s(m.predicted), format_duration_s(m.measured), m.error);
  for (const auto& m : c.memory)
    row(fmt::format("peak memory rank {}", m.measured_rank), format_bytes(m.predicted_bytes),
        format_bytes(m.measured_bytes), m.error);
  out << "</table>\n";

  if (!c.ops.empty()) {
    const std::size_t n = std::min<std::size_t>(c.ops.size(), 25);
    out << "<p class=\"note\">Ops with the largest absolute error (" << n << " of " << c.ops.size()
        << ", mean per occurrence)</p>\n<table><tr><th class=\"n\">program</th><th class=\"n\">op</th><th>name</th>"
           "<th>class</th><th class=\"n\">predicted</th><th class=\"n\">measured</th><th class=\"n\">error</th></tr>\n";
    for (std::size_t i = 0; i < n; ++i) {
      const auto& o = c.ops[i];
      out << "<tr><td class=\"n\">" << o.program << "</td><td class=\"n\">" << o.op << "</td><td>"
          << html_escape(o.name) << "</td><td>" << html_escape(o.op_class) << "</td><td class=\"n\">"
          << format_duration_ns(o.predicted_ns) << "</td><td class=\"n\">" << format_duration_ns(o.measured_ns)
          << "</td><td class=\"n\">" << format_error_percent(o.error) << "</td></tr>\n";
    }
    out << "</table>\n";
  }
}

}  // namespace

void write_html_report(const plan::Trace& trace, const ReportContext& context, std::ostream& out,
                       const Comparison* comparison, const HtmlOptions& options) {
  const std::string title = context.title.empty() ? default_title(trace) : context.title;
  out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" << html_escape(title)
      << "</title>\n<style>" << kCss << "</style>\n</head>\n<body>\n";
  header(trace, context, out);
  summary_cards(trace, out);
  memory_chart(trace, options, out);
  timeline_chart(trace, options, out);
  comm_chart(trace, options, out);
  if (comparison != nullptr) comparison_section(*comparison, options, out);
  out << "</body>\n</html>\n";
}

}  // namespace clustersim::reports
