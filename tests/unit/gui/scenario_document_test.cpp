// Tests of gui/src/core/scenario_document.hpp: edits through set_path, validation with the
// library's exact messages, file round trips.
#include "core/scenario_document.hpp"

#include <fstream>

#include <gtest/gtest.h>

#include <QSignalSpy>
#include <QTemporaryDir>

#include "clustersim/plan/error.hpp"
#include "gui_test_support.hpp"

namespace clustersim::gui {
namespace {

using nlohmann::json;

// What parse_scenario says about `j` (empty when it is valid).
std::pair<std::string, std::string> library_error(const json& j) {
  try {
    models::parse_scenario(j);
  } catch (const InputError& e) {
    return {e.what(), e.json_path()};
  }
  return {};
}

TEST(ScenarioDocument, ValidScenarioParses) {
  ScenarioDocument doc;
  QSignalSpy changed(&doc, &ScenarioDocument::changed);
  doc.set_json(testing::small_scenario());
  EXPECT_EQ(changed.count(), 1);
  EXPECT_TRUE(doc.valid());
  ASSERT_NE(doc.scenario(), nullptr);
  EXPECT_EQ(doc.scenario()->parallelism.tp, 2);
  EXPECT_EQ(doc.scenario()->parallelism.dp, 2);
  EXPECT_FALSE(doc.modified());
}

TEST(ScenarioDocument, InvalidEditKeepsTheLibraryMessageAndTheLastValidScenario) {
  ScenarioDocument doc;
  doc.set_json(testing::small_scenario());
  const auto valid = doc.scenario();
  const auto revision = doc.revision();
  const auto knobs = scenario_knobs();
  doc.set_knob(*find_knob(knobs, "tp"), 3);
  EXPECT_GT(doc.revision(), revision);
  EXPECT_TRUE(doc.modified());
  EXPECT_FALSE(doc.valid());
  EXPECT_EQ(doc.scenario(), nullptr);
  EXPECT_EQ(doc.last_valid_scenario(), valid);
  const auto [message, path] = library_error(doc.json());
  ASSERT_FALSE(message.empty());
  EXPECT_EQ(doc.error().message.toStdString(), message);
  EXPECT_EQ(doc.error().json_path.toStdString(), path);
  EXPECT_EQ(doc.json()["parallelism"]["tp"], 3);

  // Back to a valid value: a new scenario.
  doc.set_knob(*find_knob(knobs, "tp"), 1);
  EXPECT_TRUE(doc.valid());
  EXPECT_EQ(doc.scenario()->parallelism.tp, 1);
  EXPECT_EQ(doc.scenario()->parallelism.dp, 4);
}

TEST(ScenarioDocument, MalformedPathIsReportedNotThrown) {
  ScenarioDocument doc;
  doc.set_json(testing::small_scenario());
  doc.set_value("name.sub", 1);  // through a string
  EXPECT_FALSE(doc.valid());
  EXPECT_FALSE(doc.error().message.isEmpty());
}

TEST(ScenarioDocument, SetValuesAppliesAllThenValidatesOnce) {
  ScenarioDocument doc;
  doc.set_json(testing::small_scenario());
  QSignalSpy changed(&doc, &ScenarioDocument::changed);
  doc.set_values({{"parallelism.tp", 1}, {"parallelism.pp", 1}, {"training.micro_batch", 1}});
  EXPECT_EQ(changed.count(), 1);
  ASSERT_TRUE(doc.valid()) << doc.error().message.toStdString();
  EXPECT_EQ(doc.scenario()->parallelism.dp, 8);
  EXPECT_EQ(doc.scenario()->training.micro_batch, 1);
}

TEST(ScenarioDocument, FilesRoundTripAndMissingFilesReportAnError) {
  QTemporaryDir dir;
  ASSERT_TRUE(dir.isValid());
  ScenarioDocument doc;
  doc.set_json(testing::small_scenario());
  doc.set_value("training.zero_stage", 1);
  const QString path = dir.filePath("s.json");
  EXPECT_TRUE(doc.save_file(path).isEmpty());
  EXPECT_FALSE(doc.modified());
  EXPECT_EQ(doc.path(), path);

  ScenarioDocument other;
  EXPECT_TRUE(other.load_file(path).valid());
  EXPECT_EQ(other.json(), doc.json());
  EXPECT_TRUE(other.valid());

  const json before = other.json();
  const ScenarioError e = other.load_file(dir.filePath("missing.json"));
  EXPECT_FALSE(e.valid());
  EXPECT_TRUE(e.message.contains("missing.json")) << e.message.toStdString();
  EXPECT_EQ(other.json(), before);

  std::ofstream(dir.filePath("broken.json").toStdString()) << "{ \"name\": ";
  EXPECT_FALSE(other.load_file(dir.filePath("broken.json")).valid());
  EXPECT_EQ(other.json(), before);
}

}  // namespace
}  // namespace clustersim::gui
