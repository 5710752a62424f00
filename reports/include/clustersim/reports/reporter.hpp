// Reporters chosen by name (`clustersim predict --format table|json|csv`): a small registry in the
// SimGrid manner. Each reporter renders one Trace with its ReportContext to an ostream it is given;
// an unknown name throws InputError listing the valid ones.
#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "clustersim/plan/trace.hpp"
#include "clustersim/reports/context.hpp"

namespace clustersim::reports {

class Reporter {
 public:
  virtual ~Reporter() = default;
  virtual std::string_view name() const = 0;
  virtual std::string_view description() const = 0;  // one line, for --help
  virtual void write(const plan::Trace& trace, const ReportContext& context, std::ostream& out,
                     const RenderOptions& options) const = 0;
};

// Registered names, in registration order: "table", "json", "csv".
std::vector<std::string> reporter_names();

// The reporter called `name`; InputError("format", "\"name\"", "one of \"table\", \"json\" or \"csv\"").
const Reporter& find_reporter(std::string_view name);

// Shorthand: find_reporter(format).write(trace, context, out, options).
void write_report(std::string_view format, const plan::Trace& trace, const ReportContext& context, std::ostream& out,
                  const RenderOptions& options = {});

}  // namespace clustersim::reports
