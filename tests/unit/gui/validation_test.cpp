// Tests of gui/src/core/validation_model.hpp, comparison_json.hpp, validate_process.hpp and
// trace_export.hpp: a prediction of the small scenario against a hand-made measurement, reading
// traces and comparisons from files and from a (fake) validate process, and the Chrome export.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>

#include "clustersim/plan/json.hpp"
#include "core/comparison_json.hpp"
#include "core/trace_export.hpp"
#include "core/validate_process.hpp"
#include "core/validation_model.hpp"
#include "gui_test_support.hpp"

namespace clustersim::gui {
namespace {

struct Fixture {
  PredictionPtr predicted = testing::predict_json(testing::small_scenario());
  std::shared_ptr<const plan::Trace> measured =
      std::make_shared<const plan::Trace>(testing::make_measured(predicted->trace));
};

const ComparisonTableModel::Row* find_row(const ComparisonTableModel& m, const QString& name) {
  for (const auto& r : m.rows())
    if (r.name == name) return &r;
  return nullptr;
}

TEST(ValidationModel, ComparesAPredictionWithAMeasurement) {
  Fixture f;
  ValidationModel v;
  QSignalSpy changed(&v, &ValidationModel::changed);
  v.set_predicted(f.predicted);
  EXPECT_FALSE(v.comparison().has_value());
  EXPECT_TRUE(v.set_measured(f.measured, "hand-made").isEmpty()) << v.error().toStdString();
  EXPECT_GE(changed.count(), 2);
  ASSERT_TRUE(v.comparison().has_value());
  const auto& c = *v.comparison();
  EXPECT_EQ(c.steps_used, (std::vector<std::int32_t>{1, 2}));
  EXPECT_EQ(v.measured_step(), 1);

  // Per-class rows: gemm measured 1.1x the prediction -> error (1 - 1.1) / 1.1 = -9.1%.
  const auto* gemm = find_row(*v.classes_model(), "gemm");
  ASSERT_NE(gemm, nullptr);
  EXPECT_NEAR(gemm->error, 1.0 / 1.1 - 1.0, 1e-3);
  EXPECT_TRUE(gemm->passed);  // within the 10% step-time tolerance
  const auto* memory = find_row(*v.classes_model(), "memory");
  ASSERT_NE(memory, nullptr);
  EXPECT_NEAR(memory->error, 1.0 / 1.25 - 1.0, 1e-3);
  EXPECT_FALSE(memory->passed);
  EXPECT_EQ(v.classes_model()->rows().front().name, "step time");
  EXPECT_EQ(v.classes_model()->data(v.classes_model()->index(0, 5), Qt::DisplayRole).toString().isEmpty(), false);

  // Checks: as many rows as the comparison has checks, with its verdict.
  EXPECT_EQ(v.checks_model()->rowCount(), static_cast<int>(c.checks.size()));
  EXPECT_GE(c.checks.size(), 2u);
  EXPECT_TRUE(v.verdict().startsWith(c.passed ? "PASS" : "FAIL"));

  // The overlay: both timelines, measured from its first averaged step.
  EXPECT_GT(v.predicted_timeline().span_count(), 0);
  EXPECT_EQ(v.measured_timeline().span_count(), v.predicted_timeline().span_count());
  EXPECT_EQ(v.measured_timeline().lane_count(), v.predicted_timeline().lane_count());
  EXPECT_GT(v.measured_timeline().end_ns(), v.predicted_timeline().end_ns());
}

TEST(ValidationModel, ANewPredictionIsComparedAgain) {
  Fixture f;
  ValidationModel v;
  v.set_predicted(f.predicted);
  v.set_measured(f.measured);
  const double before = v.comparison()->step_time.error;
  // A prediction of a different scenario: the library refuses, the message is kept.
  auto other = std::make_shared<PredictionResult>(*f.predicted);
  other->trace.scenario = "something else";
  v.set_predicted(other);
  EXPECT_FALSE(v.comparison().has_value());
  EXPECT_FALSE(v.error().isEmpty());
  v.set_predicted(f.predicted);
  ASSERT_TRUE(v.comparison().has_value());
  EXPECT_DOUBLE_EQ(v.comparison()->step_time.error, before);
}

TEST(ValidationModel, LoadsMeasuredTraceFilesAndReportsBadOnes) {
  Fixture f;
  QTemporaryDir dir;
  const QString good = dir.filePath("measured.json");
  plan::write_json_file(good.toStdString(), plan::to_json(*f.measured));
  ValidationModel v;
  v.set_predicted(f.predicted);
  EXPECT_TRUE(v.load_measured_file(good).isEmpty()) << v.error().toStdString();
  EXPECT_TRUE(v.comparison().has_value());
  EXPECT_EQ(v.origin(), good);

  const QString bad = dir.filePath("bad.json");
  std::ofstream(bad.toStdString()) << R"({"schema": "clustersim.trace/1", "ops": 3})";
  const QString error = v.load_measured_file(bad);
  EXPECT_FALSE(error.isEmpty());
  EXPECT_EQ(v.error(), error);
  EXPECT_FALSE(v.load_measured_file(dir.filePath("missing.json")).isEmpty());
  v.clear_measured();
  EXPECT_FALSE(v.comparison().has_value());
  EXPECT_TRUE(v.error().isEmpty());
}

TEST(ComparisonJson, RoundTripsTheReportsDocument) {
  Fixture f;
  const reports::Comparison c = reports::compare(f.predicted->trace, *f.measured);
  const reports::Comparison back = comparison_from_json(reports::comparison_json(c));
  EXPECT_EQ(back.scenario, c.scenario);
  EXPECT_EQ(back.passed, c.passed);
  EXPECT_EQ(back.steps_used, c.steps_used);
  EXPECT_EQ(back.rank_map, c.rank_map);
  ASSERT_EQ(back.classes.size(), c.classes.size());
  for (std::size_t i = 0; i < c.classes.size(); ++i) {
    EXPECT_EQ(back.classes[i].name, c.classes[i].name);
    EXPECT_DOUBLE_EQ(back.classes[i].measured, c.classes[i].measured);
  }
  ASSERT_EQ(back.checks.size(), c.checks.size());
  EXPECT_EQ(back.checks[0].unit, c.checks[0].unit);
  EXPECT_EQ(back.checks[0].passed, c.checks[0].passed);
  EXPECT_EQ(back.ops.size(), c.ops.size());
  EXPECT_THROW(comparison_from_json(nlohmann::json{{"schema", "other"}}), InputError);
  EXPECT_THROW(comparison_from_json(nlohmann::json::array()), InputError);
}

TEST(ValidateOutput, AcceptsTracesAndComparisons) {
  Fixture f;
  ValidationModel v;
  v.set_predicted(f.predicted);
  EXPECT_TRUE(apply_validate_output(v, plan::to_json(*f.measured)).isEmpty());
  ASSERT_TRUE(v.comparison().has_value());
  const auto expected_classes = v.comparison()->classes.size();

  ValidationModel w;
  EXPECT_TRUE(apply_validate_output(w, reports::comparison_json(*v.comparison())).isEmpty());
  ASSERT_TRUE(w.comparison().has_value());
  EXPECT_EQ(w.comparison()->classes.size(), expected_classes);
  EXPECT_FALSE(apply_validate_output(w, nlohmann::json{{"schema", "x"}}).isEmpty());
}

TEST(ValidateOutput, ProgressLines) {
  EXPECT_DOUBLE_EQ(parse_progress_line("running  42%"), 0.42);
  EXPECT_DOUBLE_EQ(parse_progress_line("[=====     ] 50.0 %"), 0.5);
  EXPECT_DOUBLE_EQ(parse_progress_line("step 3/4"), 0.75);
  EXPECT_LT(parse_progress_line("building plan"), 0.0);
}

TEST(ValidateProcess, ArgumentsAreTheCliValidateCommand) {
  EXPECT_EQ(ValidateProcess::arguments_for("s.json"),
            (QStringList{"validate", "s.json", "--backend", "cpu", "--format", "json", "--calibrate"}));
  EXPECT_EQ(ValidateProcess::arguments_for("s.json", "cuda"),
            (QStringList{"validate", "s.json", "--backend", "cuda", "--format", "json"}));
}

// A stand-in for `clustersim`: a shell script that checks its arguments, prints progress to stderr
// and a measured trace to stdout.
QString fake_cli(QTemporaryDir& dir, const QString& body) {
  const QString path = dir.filePath("fake-clustersim");
  QFile file(path);
  file.open(QIODevice::WriteOnly);
  file.write(("#!/bin/sh\n" + body + "\n").toUtf8());
  file.close();
  file.setPermissions(QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
  return path;
}

TEST(ValidateProcess, RunsTheCommandAndAppliesItsOutput) {
  Fixture f;
  QTemporaryDir dir;
  const QString trace = dir.filePath("measured.json");
  plan::write_json_file(trace.toStdString(), plan::to_json(*f.measured));
  ValidateProcess p;
  p.set_program(fake_cli(dir, QStringLiteral("[ \"$1\" = validate ] && [ -f \"$2\" ] && [ \"$4\" = cpu ] || exit 2\n"
                                             "echo 'step 1/2' >&2\necho '100%' >&2\ncat '%1'")
                                  .arg(trace)));
  std::vector<double> progress;
  std::optional<nlohmann::json> output;
  QString failure;
  QObject::connect(&p, &ValidateProcess::progress,
                   [&](double fraction, const QString&) { progress.push_back(fraction); });
  QObject::connect(&p, &ValidateProcess::output_ready, [&](const nlohmann::json& j) { output = j; });
  QObject::connect(&p, &ValidateProcess::failed, [&](const QString& e) { failure = e; });
  ASSERT_TRUE(p.start(testing::small_scenario()).isEmpty());
  ASSERT_TRUE(testing::wait_until([&] { return output.has_value() || !failure.isEmpty(); }));
  ASSERT_TRUE(failure.isEmpty()) << failure.toStdString();
  EXPECT_NE(std::find(progress.begin(), progress.end(), 1.0), progress.end());
  ValidationModel v;
  v.set_predicted(f.predicted);
  EXPECT_TRUE(apply_validate_output(v, *output).isEmpty());
  EXPECT_TRUE(v.comparison().has_value());
}

TEST(ValidateProcess, ReportsBadInputCrashesAndCancel) {
  QTemporaryDir dir;
  ValidateProcess p;
  QString failure;
  QObject::connect(&p, &ValidateProcess::failed, [&](const QString& e) { failure = e; });

  p.set_program(fake_cli(dir, QStringLiteral("echo 'training.micro_batch: got 0; allowed: 1 to 2^31' >&2; exit 2")));
  ASSERT_TRUE(p.start(testing::small_scenario()).isEmpty());
  ASSERT_TRUE(testing::wait_until([&] { return !failure.isEmpty(); }));
  EXPECT_TRUE(failure.contains("code 2"));
  EXPECT_TRUE(failure.contains("training.micro_batch"));

  failure.clear();
  p.set_program(fake_cli(dir, QStringLiteral("echo not json")));
  ASSERT_TRUE(p.start(testing::small_scenario()).isEmpty());
  ASSERT_TRUE(testing::wait_until([&] { return !failure.isEmpty(); }));
  EXPECT_TRUE(failure.contains("no JSON"));

  failure.clear();
  p.set_program(fake_cli(dir, QStringLiteral("sleep 30")));
  ASSERT_TRUE(p.start(testing::small_scenario()).isEmpty());
  EXPECT_TRUE(p.running());
  EXPECT_FALSE(p.start(testing::small_scenario()).isEmpty());  // one run at a time
  p.cancel();
  ASSERT_TRUE(testing::wait_until([&] { return !failure.isEmpty(); }, 10000));
  EXPECT_TRUE(failure.contains("cancelled"));

  failure.clear();
  p.set_program(dir.filePath("does-not-exist"));
  ASSERT_TRUE(p.start(testing::small_scenario()).isEmpty());
  ASSERT_TRUE(testing::wait_until([&] { return !failure.isEmpty(); }));
  EXPECT_TRUE(failure.contains("could not start"));
}

TEST(TraceExport, WritesChromeTraceAndTraceJson) {
  Fixture f;
  QTemporaryDir dir;
  const QString chrome = dir.filePath("p.chrome.json");
  ASSERT_TRUE(export_chrome_trace(f.predicted->trace, chrome).isEmpty());
  std::ifstream in(chrome.toStdString());
  const nlohmann::json j = nlohmann::json::parse(in);
  ASSERT_TRUE(j.contains("traceEvents"));
  EXPECT_GT(j["traceEvents"].size(), f.predicted->trace.ops.size());
  const QString trace = dir.filePath("p.trace.json");
  ASSERT_TRUE(export_trace_json(f.predicted->trace, trace).isEmpty());
  EXPECT_EQ(plan::read_trace_file(trace.toStdString()).ops.size(), f.predicted->trace.ops.size());
  EXPECT_FALSE(export_chrome_trace(f.predicted->trace, "/nonexistent/dir/x.json").isEmpty());
}

}  // namespace
}  // namespace clustersim::gui
