// The registry of reporters by name ("table", "json", "csv"); see reporter.hpp.
#include "clustersim/reports/reporter.hpp"

#include <memory>

#include "clustersim/plan/error.hpp"
#include "clustersim/reports/csv_report.hpp"
#include "clustersim/reports/json_report.hpp"
#include "clustersim/reports/table.hpp"

namespace clustersim::reports {

namespace {

using WriteFn = void (*)(const plan::Trace&, const ReportContext&, std::ostream&, const RenderOptions&);

class FunctionReporter final : public Reporter {
 public:
  FunctionReporter(std::string_view name, std::string_view description, WriteFn fn)
      : name_(name), description_(description), fn_(fn) {}
  std::string_view name() const override { return name_; }
  std::string_view description() const override { return description_; }
  void write(const plan::Trace& trace, const ReportContext& context, std::ostream& out,
             const RenderOptions& options) const override {
    fn_(trace, context, out, options);
  }

 private:
  std::string_view name_, description_;
  WriteFn fn_;
};

const std::vector<std::unique_ptr<Reporter>>& registry() {
  static const std::vector<std::unique_ptr<Reporter>> reporters = [] {
    std::vector<std::unique_ptr<Reporter>> r;
    r.push_back(std::make_unique<FunctionReporter>("table", "aligned console report", &write_table_report));
    r.push_back(std::make_unique<FunctionReporter>("json", "machine-readable report (clustersim.report/1)",
                                                   &write_json_report));
    r.push_back(
        std::make_unique<FunctionReporter>("csv", "header and one row of every summary metric", &write_csv_report));
    return r;
  }();
  return reporters;
}

}  // namespace

std::vector<std::string> reporter_names() {
  std::vector<std::string> names;
  for (const auto& r : registry()) names.emplace_back(r->name());
  return names;
}

const Reporter& find_reporter(std::string_view name) {
  for (const auto& r : registry())
    if (r->name() == name) return *r;
  std::string allowed = "one of ";
  const auto names = reporter_names();
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) allowed += (i + 1 == names.size()) ? " or " : ", ";
    allowed += "\"" + names[i] + "\"";
  }
  throw InputError("format", "\"" + std::string(name) + "\"", allowed);
}

void write_report(std::string_view format, const plan::Trace& trace, const ReportContext& context, std::ostream& out,
                  const RenderOptions& options) {
  find_reporter(format).write(trace, context, out, options);
}

}  // namespace clustersim::reports
