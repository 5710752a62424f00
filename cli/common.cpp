// Shared CLI wiring; see common.hpp.
#include "common.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include "clustersim/plan/error.hpp"
#include "clustersim/plan/profile.hpp"

namespace clustersim::cli {

LoadedScenario load_scenario(const std::string& path, const std::vector<std::string>& overrides) {
  LoadedScenario out;
  out.path = path;
  out.json = models::load_scenario_json(path);
  for (const auto& o : overrides) models::apply_override(out.json, o);
  out.scenario = models::parse_scenario(out.json);
  return out;
}

engine::SimulationOptions simulation_options(const models::Scenario& sc) {
  engine::SimulationOptions o;
  const auto& s = sc.simulation;
  o.network = s.network == "flow" ? engine::NetworkTier::flow : engine::NetworkTier::analytical;
  o.cost_model = s.cost_model;
  o.collective_algorithm = s.collective_algorithm;
  o.rank_mode = s.rank_mode == "expanded"    ? engine::RankMode::expanded
                : s.rank_mode == "symmetric" ? engine::RankMode::symmetric
                                             : engine::RankMode::automatic;
  if (!s.profile.empty()) {
    o.profile = std::make_shared<const plan::CalibrationProfile>(plan::read_profile_file(s.profile));
  }
  return o;
}

reports::ReportContext report_context(const models::Scenario& sc, const plan::Plan& plan) {
  reports::ReportContext c;
  c.title = sc.name;
  const auto& a = sc.model.arch;
  const auto& par = sc.parallelism;
  const auto& t = sc.training;
  auto add = [&](std::string k, std::string v) { c.facts.emplace_back(std::move(k), std::move(v)); };
  if (!sc.description.empty()) add("description", sc.description);
  std::string model = fmt::format("{} ({:.3g}B parameters)", a.name, static_cast<double>(plan.meta.parameters) / 1e9);
  if (a.is_transformer()) model += fmt::format(", seq {}", sc.model.seq_len);
  add("model", model);
  add("cluster", fmt::format("{} node{} x {} {} = {} GPUs", sc.cluster.nodes, sc.cluster.nodes == 1 ? "" : "s",
                             sc.cluster.gpus_per_node, sc.cluster.gpu.name, sc.cluster.gpus()));
  std::string p = fmt::format("dp {} x tp {} x pp {}", par.dp, par.tp, par.pp);
  if (par.sp) p += ", sequence parallel";
  if (par.pp > 1) {
    p += ", " + std::string(models::schedule_name(par.schedule));
    if (par.virtual_stages > 1) p += fmt::format(" (v={})", par.virtual_stages);
  }
  add("parallelism", p);
  add("batch", fmt::format("global {}, micro {}, accumulation {}", t.global_batch, t.micro_batch,
                           sc.accumulation_steps()));
  std::string train = fmt::format("{}, {}, recompute {}", to_string(t.precision), to_string(t.optimizer),
                                  to_string(t.recompute));
  if (t.zero_stage > 0) train += fmt::format(", ZeRO-{}", t.zero_stage);
  add("training", train);
  add("simulation", fmt::format("{} network, {} cost model", sc.simulation.network, sc.simulation.cost_model));
  return c;
}

void write_text_file(const std::string& path, const std::function<void(std::ostream&)>& writer) {
  if (path == "-") {
    writer(std::cout);
    std::cout.flush();
    return;
  }
  const std::filesystem::path target(path);
  if (target.has_parent_path()) std::filesystem::create_directories(target.parent_path());
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    if (!out) throw InputError(path, "a path that cannot be written", "a writable file path");
    writer(out);
    if (!out) throw Error("writing " + tmp + " failed");
  }
  std::filesystem::rename(tmp, target);
}

int guarded(const std::function<int()>& body) {
  try {
    return body();
  } catch (const InputError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const CheckFailed& e) {
    std::cerr << "check failed: " << e.what() << "\n";
    return kExitCheckFailed;
  } catch (const InternalError& e) {
    std::cerr << e.what() << "\n";
    return kExitInternal;
  } catch (const Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kExitInternal;
  } catch (const std::exception& e) {
    std::cerr << "internal error: " << e.what() << "\n";
    return kExitInternal;
  }
}

std::function<bool(double)> progress_bar(const std::string& label, bool enabled) {
  if (!enabled || isatty(STDERR_FILENO) == 0) return {};
  auto last = std::make_shared<int>(-1);
  return [label, last](double fraction) {
    const int percent = static_cast<int>(fraction * 100.0);
    if (percent == *last) return true;
    *last = percent;
    const int width = 30, filled = percent * width / 100;
    std::fprintf(stderr, "\r%s [%s%s] %3d%%", label.c_str(), std::string(static_cast<std::size_t>(filled), '#').c_str(),
                 std::string(static_cast<std::size_t>(width - filled), ' ').c_str(), percent);
    if (percent >= 100) std::fprintf(stderr, "\n");
    std::fflush(stderr);
    return true;
  };
}

}  // namespace clustersim::cli
