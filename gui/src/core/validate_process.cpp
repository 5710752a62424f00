// ValidateProcess: the `clustersim validate` child process and the handling of its output.
#include "core/validate_process.hpp"

#include <algorithm>
#include <fstream>

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QTimer>

#include "clustersim/plan/json.hpp"
#include "clustersim/plan/trace.hpp"
#include "clustersim/reports/compare.hpp"
#include "core/validation_model.hpp"

namespace clustersim::gui {

double parse_progress_line(const QString& line) {
  static const QRegularExpression percent(QStringLiteral("(\\d+(?:\\.\\d+)?)\\s*%"));
  static const QRegularExpression steps(QStringLiteral("step\\s+(\\d+)\\s*/\\s*(\\d+)"),
                                        QRegularExpression::CaseInsensitiveOption);
  const auto p = percent.match(line);
  if (p.hasMatch()) return std::clamp(p.captured(1).toDouble() / 100.0, 0.0, 1.0);
  const auto s = steps.match(line);
  if (s.hasMatch() && s.captured(2).toDouble() > 0)
    return std::clamp(s.captured(1).toDouble() / s.captured(2).toDouble(), 0.0, 1.0);
  return -1.0;
}

QString apply_validate_output(ValidationModel& model, const nlohmann::json& output) {
  const std::string schema = output.is_object() ? output.value("schema", std::string()) : std::string();
  if (schema == plan::kTraceSchema) {
    try {
      auto trace = std::make_shared<const plan::Trace>(plan::trace_from_json(output));
      return model.set_measured(std::move(trace), QStringLiteral("clustersim validate"));
    } catch (const std::exception& e) {
      return QString::fromStdString(e.what());
    }
  }
  if (schema == reports::kComparisonSchema) {
    if (output.contains("measured_trace") && output.at("measured_trace").is_string()) {
      const QString path = QString::fromStdString(output.at("measured_trace").get<std::string>());
      const QString error = model.load_measured_file(path);
      if (error.isEmpty()) return {};
    }
    return model.set_comparison_json(output);
  }
  return QStringLiteral("the validate command printed JSON that is neither a comparison (%1) nor a trace (%2)")
      .arg(QString::fromLatin1(reports::kComparisonSchema), QString::fromLatin1(plan::kTraceSchema));
}

ValidateProcess::ValidateProcess(QObject* parent) : QObject(parent), program_(default_program()) {
  static const int registered = qRegisterMetaType<nlohmann::json>("nlohmann::json");
  (void)registered;
}

ValidateProcess::~ValidateProcess() {
  if (process_ && process_->state() != QProcess::NotRunning) {
    process_->kill();
    process_->waitForFinished(2000);
  }
}

QString ValidateProcess::default_program() {
  const QString dir = QCoreApplication::instance() ? QCoreApplication::applicationDirPath() : QString();
  for (const QString& candidate : {dir + "/clustersim", dir + "/../cli/clustersim"}) {
    const QFileInfo info(candidate);
    if (!dir.isEmpty() && info.isFile() && info.isExecutable()) return info.canonicalFilePath();
  }
  const QString on_path = QStandardPaths::findExecutable(QStringLiteral("clustersim"));
  return on_path.isEmpty() ? QStringLiteral("clustersim") : on_path;
}

QStringList ValidateProcess::arguments_for(const QString& scenario_path, const QString& backend) {
  QStringList args{QStringLiteral("validate"), scenario_path,         QStringLiteral("--backend"), backend,
                   QStringLiteral("--format"), QStringLiteral("json")};
  // On CPUs the run first measures the scenario's own ops: a prediction from the machine as it is now.
  if (backend == QStringLiteral("cpu")) args << QStringLiteral("--calibrate");
  return args;
}

bool ValidateProcess::running() const {
  return process_ && process_->state() != QProcess::NotRunning;
}

QString ValidateProcess::start(const nlohmann::json& scenario, const QString& backend) {
  if (running()) return QStringLiteral("a validate run is already in progress");
  dir_ = std::make_unique<QTemporaryDir>();
  if (!dir_->isValid()) return QStringLiteral("cannot create a temporary directory");
  const QString path = dir_->filePath(QStringLiteral("scenario.json"));
  {
    std::ofstream out(path.toStdString());
    out << scenario.dump(2) << "\n";
    if (!out) return QStringLiteral("cannot write %1").arg(path);
  }
  stdout_.clear();
  stderr_.clear();
  last_line_.clear();
  cancelled_ = false;
  delete process_;
  process_ = new QProcess(this);
  process_->setWorkingDirectory(dir_->path());
  connect(process_, &QProcess::readyReadStandardOutput, this, [this] { stdout_ += process_->readAllStandardOutput(); });
  connect(process_, &QProcess::readyReadStandardError, this, [this] {
    const QByteArray chunk = process_->readAllStandardError();
    stderr_ += chunk;
    // Progress bars redraw with '\r'; take the last complete or partial line.
    const QStringList lines =
        QString::fromUtf8(chunk).split(QRegularExpression(QStringLiteral("[\r\n]")), Qt::SkipEmptyParts);
    for (const QString& line : lines) {
      last_line_ = line.trimmed();
      emit progress(parse_progress_line(last_line_), last_line_);
    }
  });
  connect(process_, &QProcess::finished, this, &ValidateProcess::on_finished);
  connect(process_, &QProcess::errorOccurred, this, [this](QProcess::ProcessError error) {
    if (error == QProcess::FailedToStart)
      emit failed(QStringLiteral("could not start %1: %2").arg(program_, process_->errorString()));
  });
  process_->start(program_, arguments_for(path, backend));
  emit progress(-1.0, QStringLiteral("started %1").arg(program_));
  return {};
}

void ValidateProcess::cancel() {
  if (!running()) return;
  cancelled_ = true;
  process_->terminate();
  QProcess* p = process_;
  QTimer::singleShot(3000, p, [p] {
    if (p->state() != QProcess::NotRunning) p->kill();
  });
}

void ValidateProcess::on_finished(int exit_code, QProcess::ExitStatus status) {
  stdout_ += process_->readAllStandardOutput();
  stderr_ += process_->readAllStandardError();
  if (cancelled_) {
    emit failed(QStringLiteral("validate run cancelled"));
    return;
  }
  const QString err = QString::fromUtf8(stderr_).trimmed();
  if (status != QProcess::NormalExit) {
    emit failed(QStringLiteral("the validate run crashed") + (err.isEmpty() ? QString() : ": " + err.right(400)));
    return;
  }
  if (exit_code != 0 && exit_code != 1) {
    emit failed(QStringLiteral("validate exited with code %1%2")
                    .arg(exit_code)
                    .arg(err.isEmpty() ? QString() : ": " + err.right(600)));
    return;
  }
  try {
    emit output_ready(nlohmann::json::parse(stdout_.toStdString()));
  } catch (const nlohmann::json::exception& e) {
    emit failed(QStringLiteral("the validate run printed no JSON (%1)%2")
                    .arg(QString::fromStdString(e.what()), err.isEmpty() ? QString() : ": " + err.right(400)));
  }
}

}  // namespace clustersim::gui
