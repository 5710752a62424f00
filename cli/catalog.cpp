// `clustersim catalog [gpus|links|architectures]`: the presets a scenario can name.
#include <iostream>

#include <fmt/format.h>

#include "clustersim/models/catalog.hpp"
#include "clustersim/plan/json.hpp"
#include "commands.hpp"
#include "common.hpp"

namespace clustersim::cli {

namespace {
struct CatalogArgs {
  std::string what = "all";
  std::string format = "table";
};

void print_gpus(const models::Catalog& c, std::ostream& os) {
  os << fmt::format("{:<16} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}\n", "GPU", "mem GiB", "HBM GB/s", "fp32 TF", "tf32 TF",
                    "bf16 TF", "fp8 TF");
  for (const auto& name : c.gpu_names()) {
    const auto& g = c.gpu(name, "gpu");
    auto rate = [&](DType d) {
      const auto it = g.peak_tflops.find(d);
      return it == g.peak_tflops.end() ? std::string("-") : fmt::format("{:.1f}", it->second);
    };
    os << fmt::format("{:<16} {:>8.0f} {:>9.0f} {:>9} {:>9} {:>9} {:>9}\n", name, g.memory_gib,
                      g.memory_bandwidth_gbytes_s, rate(DType::fp32), rate(DType::tf32), rate(DType::bf16),
                      rate(DType::fp8_e4m3));
  }
}

void print_links(const models::Catalog& c, std::ostream& os) {
  os << fmt::format("{:<24} {:>10} {:>8} {:>11}\n", "link", "Gbps/dir", "GB/s", "latency us");
  for (const auto& name : c.link_names()) {
    const auto& l = c.link(name, "link");
    os << fmt::format("{:<24} {:>10.0f} {:>8.1f} {:>11.2f}\n", name, l.bandwidth_gbps, l.bandwidth_gbps / 8.0,
                      l.latency_us);
  }
}

void print_architectures(const models::Catalog& c, std::ostream& os) {
  os << fmt::format("{:<14} {:<7} {:>7} {:>7} {:>11} {:>7} {:>8} {:>15}\n", "architecture", "family", "layers",
                    "hidden", "heads (kv)", "vocab", "max_seq", "parameters");
  for (const auto& name : c.architecture_names()) {
    const auto& a = c.architecture(name, "architecture");
    const std::string heads = a.is_transformer() ? fmt::format("{} ({})", a.heads, a.kv_heads) : "-";
    os << fmt::format("{:<14} {:<7} {:>7} {:>7} {:>11} {:>7} {:>8} {:>15}\n", name, models::family_name(a.family),
                      a.is_transformer() ? std::to_string(a.layers) : "-",
                      a.is_transformer() ? std::to_string(a.hidden) : "-", heads,
                      a.is_transformer() ? std::to_string(a.vocab) : "-",
                      a.is_transformer() ? std::to_string(a.max_seq) : "-",
                      fmt::format("{:L}", models::parameter_count(a)));
  }
}
}  // namespace

CommandEntry add_catalog(CLI::App& app) {
  auto args = std::make_shared<CatalogArgs>();
  CLI::App* cmd = app.add_subcommand("catalog", "List the GPU, link and architecture presets");
  cmd->add_option("what", args->what, "gpus, links, architectures or all")
      ->check(CLI::IsMember({"gpus", "links", "architectures", "all"}))
      ->default_val("all");
  cmd->add_option("--format", args->format, "table or json")->check(CLI::IsMember({"table", "json"}));
  return {cmd, [args]() {
    const auto& c = models::Catalog::builtin();
    if (args->format == "json") {
      nlohmann::json j;
      if (args->what == "gpus" || args->what == "all")
        for (const auto& n : c.gpu_names()) j["gpus"][n] = c.gpu_json(n, "gpu");
      if (args->what == "links" || args->what == "all")
        for (const auto& n : c.link_names()) j["links"][n] = c.link_json(n, "link");
      if (args->what == "architectures" || args->what == "all")
        for (const auto& n : c.architecture_names()) j["architectures"][n] = c.architecture_json(n, "architecture");
      std::cout << j.dump(2) << '\n';
      return kExitOk;
    }
    bool first = true;
    auto section = [&](const char* what, auto printer) {
      if (args->what != what && args->what != "all") return;
      if (!first) std::cout << '\n';
      first = false;
      printer(c, std::cout);
    };
    section("gpus", print_gpus);
    section("links", print_links);
    section("architectures", print_architectures);
    return kExitOk;
  }};
}

}  // namespace clustersim::cli
