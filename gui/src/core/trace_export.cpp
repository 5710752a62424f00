// Chrome-trace and trace-JSON export of a prediction.
#include "core/trace_export.hpp"

#include <fstream>

#include "clustersim/plan/json.hpp"
#include "clustersim/reports/chrome_trace.hpp"

namespace clustersim::gui {

QString export_chrome_trace(const plan::Trace& trace, const QString& path) {
  std::ofstream out(path.toStdString(), std::ios::binary | std::ios::trunc);
  if (!out) return QStringLiteral("cannot write %1").arg(path);
  try {
    reports::write_chrome_trace(trace, out);
  } catch (const std::exception& e) {
    return QString::fromStdString(e.what());
  }
  out.close();
  return out ? QString() : QStringLiteral("cannot write %1").arg(path);
}

QString export_trace_json(const plan::Trace& trace, const QString& path) {
  try {
    plan::write_json_file(path.toStdString(), plan::to_json(trace), 1);
  } catch (const std::exception& e) {
    return QString::fromStdString(e.what());
  }
  return {};
}

}  // namespace clustersim::gui
