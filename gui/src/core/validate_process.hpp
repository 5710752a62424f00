// Runs a real measurement from the dashboard: `clustersim validate SCENARIO --backend cpu
// --format json` as a child process (QProcess), with progress read from its stderr (percentages or
// "step N/M") and cancel (terminate, then kill). The scenario is the editor's current JSON, written
// to a temporary file first. When the process ends, its stdout is parsed as JSON and handed to
// `apply_validate_output`, which accepts a comparison document ("clustersim.comparison/1", and a
// "measured_trace" path in it when present) or a measured trace ("clustersim.trace/1").
#pragma once

#include <memory>

#include <QObject>
#include <QProcess>
#include <QString>
#include <QStringList>
#include <QTemporaryDir>

#include <nlohmann/json.hpp>

namespace clustersim::gui {

class ValidationModel;

// Progress in [0, 1] read from one line of the validate command's stderr; < 0 when the line
// carries none. Understands "42%", "42.5 %" and "step 3/10".
double parse_progress_line(const QString& line);

// Gives a validate run's JSON output to the model: a comparison is shown as is (its measured trace
// is loaded for the timelines when the document names one with "measured_trace"), a measured trace
// is compared with the current prediction. Returns an error message, empty on success.
QString apply_validate_output(ValidationModel& model, const nlohmann::json& output);

class ValidateProcess : public QObject {
  Q_OBJECT
 public:
  explicit ValidateProcess(QObject* parent = nullptr);
  ~ValidateProcess() override;

  // The `clustersim` executable; by default the one next to the dashboard (build tree: ../cli),
  // else `clustersim` on PATH.
  void set_program(const QString& program) { program_ = program; }
  const QString& program() const { return program_; }
  static QString default_program();
  // The arguments for a scenario file: validate FILE --backend BACKEND --format json, and
  // --calibrate for the cpu backend (a targeted calibration just before the run).
  static QStringList arguments_for(const QString& scenario_path, const QString& backend = QStringLiteral("cpu"));

  // Writes `scenario` to a temporary file and starts the process. Returns an error message (empty
  // when it started).
  QString start(const nlohmann::json& scenario, const QString& backend = QStringLiteral("cpu"));
  void cancel();
  bool running() const;

 signals:
  // fraction < 0: running, progress unknown. `line` is the last stderr line.
  void progress(double fraction, const QString& line);
  // The process ended with parseable JSON on stdout (exit code 0 = checks passed, 1 = a check failed).
  void output_ready(const nlohmann::json& output);
  // It could not start, was cancelled, crashed, reported bad input (exit code 2) or printed no JSON.
  void failed(const QString& message);

 private:
  void on_finished(int exit_code, QProcess::ExitStatus status);

  QString program_;
  QProcess* process_ = nullptr;
  std::unique_ptr<QTemporaryDir> dir_;
  QByteArray stdout_, stderr_;
  QString last_line_;
  bool cancelled_ = false;
};

}  // namespace clustersim::gui

Q_DECLARE_METATYPE(nlohmann::json)
