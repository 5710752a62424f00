// Tests of gui/src/core/prediction_service.hpp and dashboard.hpp: worker-thread predictions,
// debounce, supersede and cancel, atomic application to the view models, stale marking.
#include "core/prediction_service.hpp"

#include <vector>

#include <gtest/gtest.h>

#include <QSignalSpy>

#include "core/dashboard.hpp"
#include "gui_test_support.hpp"

namespace clustersim::gui {
namespace {

std::shared_ptr<const models::Scenario> scenario_of(const nlohmann::json& j) {
  return std::make_shared<const models::Scenario>(models::parse_scenario(j));
}

TEST(Prediction, PredictFillsTheResult) {
  const PredictionPtr r = testing::predict_json(testing::small_scenario(), 7);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->revision, 7u);
  EXPECT_EQ(r->world_size, 8);
  EXPECT_EQ(r->meta.tp, 2);
  EXPECT_EQ(r->meta.pp, 2);
  EXPECT_GT(r->trace.summary.step_time_s, 0.0);
  EXPECT_FALSE(r->trace.ops.empty());
  EXPECT_EQ(r->hardware.gpu.name, "A100-80GB");
  EXPECT_GT(r->plan_ops, 0);
}

TEST(Prediction, CancellationStopsThePrediction) {
  const auto s = models::parse_scenario(testing::small_scenario());
  EXPECT_THROW(predict(s, 1, [] { return true; }), PredictionCancelled);
}

TEST(PredictionService, DeliversTheResultOfARequest) {
  PredictionService service;
  service.set_debounce_ms(0);
  std::vector<PredictionPtr> results;
  QObject::connect(&service, &PredictionService::result_ready, [&](PredictionPtr r) { results.push_back(r); });
  service.request(scenario_of(testing::small_scenario()), 5);
  EXPECT_TRUE(service.busy());
  ASSERT_TRUE(testing::wait_until([&] { return !results.empty() && !service.busy(); }));
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0]->revision, 5u);
}

TEST(PredictionService, DebounceCoalescesABurstOfEdits) {
  PredictionService service;
  service.set_debounce_ms(150);
  std::vector<std::uint64_t> revisions;
  QObject::connect(&service, &PredictionService::result_ready,
                   [&](PredictionPtr r) { revisions.push_back(r->revision); });
  const auto s = scenario_of(testing::small_scenario());
  for (std::uint64_t rev = 1; rev <= 5; ++rev) service.request(s, rev);
  ASSERT_TRUE(testing::wait_until([&] { return !service.busy(); }));
  EXPECT_EQ(service.started_count(), 1);
  ASSERT_EQ(revisions.size(), 1u);
  EXPECT_EQ(revisions[0], 5u);
}

TEST(PredictionService, ANewerRequestSupersedesARunningOne) {
  PredictionService service;
  service.set_debounce_ms(0);
  std::vector<std::uint64_t> revisions;
  QObject::connect(&service, &PredictionService::result_ready,
                   [&](PredictionPtr r) { revisions.push_back(r->revision); });
  auto j = testing::small_scenario();
  service.request(scenario_of(j), 1);
  service.flush();  // revision 1 is now computing on the pool
  EXPECT_EQ(service.started_count(), 1);
  j["parallelism"]["tp"] = 1;
  service.request(scenario_of(j), 2);
  ASSERT_TRUE(testing::wait_until([&] { return !service.busy(); }));
  EXPECT_EQ(service.started_count(), 2);
  EXPECT_EQ(service.superseded_count(), 1);
  ASSERT_EQ(revisions, std::vector<std::uint64_t>{2});
}

TEST(PredictionService, CancelDropsPendingAndRunningWork) {
  PredictionService service;
  service.set_debounce_ms(0);
  int results = 0;
  QObject::connect(&service, &PredictionService::result_ready, [&](PredictionPtr) { ++results; });
  service.request(scenario_of(testing::small_scenario()), 1);
  service.flush();
  service.cancel();
  service.request(scenario_of(testing::small_scenario()), 2);
  service.cancel();  // never started
  ASSERT_TRUE(testing::wait_until([&] { return !service.busy(); }));
  EXPECT_EQ(results, 0);
  EXPECT_EQ(service.started_count(), 1);
  EXPECT_EQ(service.superseded_count(), 1);
}

TEST(Dashboard, AppliesResultsToEveryViewModelAndMarksInvalidEditsStale) {
  Dashboard d;
  d.predictor().set_debounce_ms(0);
  QSignalSpy applied(&d, &Dashboard::result_applied);
  d.document().set_json(testing::small_scenario());
  EXPECT_TRUE(d.stale());
  ASSERT_TRUE(testing::wait_until([&] { return applied.count() == 1 && !d.predictor().busy(); }));
  const PredictionPtr first = d.current();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->revision, d.document().revision());
  EXPECT_FALSE(d.stale());
  EXPECT_EQ(d.summary().result(), first);
  EXPECT_EQ(d.memory().categories().size(), first->trace.memory.size());
  EXPECT_GT(d.comm().rowCount(), 0);
  EXPECT_GT(d.timeline().lane_count(), 0);
  EXPECT_EQ(d.timeline().trace().get(), &first->trace);
  EXPECT_EQ(d.validation().predicted_trace().get(), &first->trace);

  // Invalid: the last prediction stays, marked stale, nothing is computed.
  const int started = d.predictor().started_count();
  d.document().set_knob(*find_knob(d.knobs(), "tp"), 3);
  EXPECT_FALSE(d.document().valid());
  EXPECT_TRUE(d.stale());
  EXPECT_TRUE(d.summary().stale());
  EXPECT_EQ(d.current(), first);
  QCoreApplication::processEvents();
  EXPECT_FALSE(d.predictor().busy());
  EXPECT_EQ(d.predictor().started_count(), started);

  // Valid again: a new prediction replaces it.
  d.document().set_knob(*find_knob(d.knobs(), "tp"), 1);
  ASSERT_TRUE(testing::wait_until([&] { return applied.count() == 2 && !d.predictor().busy(); }));
  EXPECT_NE(d.current(), first);
  EXPECT_EQ(d.current()->meta.tp, 1);
  EXPECT_FALSE(d.stale());
  EXPECT_FALSE(d.summary().stale());
}

TEST(Dashboard, DefaultScenarioIsAvailable) {
  QString origin;
  const nlohmann::json j = Dashboard::default_scenario_json(&origin);
  EXPECT_TRUE(j.contains("cluster"));
  EXPECT_NO_THROW(models::parse_scenario(j));
}

}  // namespace
}  // namespace clustersim::gui
