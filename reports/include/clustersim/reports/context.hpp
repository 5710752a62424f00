// What a renderer needs besides the Trace: the facts the caller knows (model, GPUs, parallelism,
// precision, batch...) that the trace does not carry, and a few rendering switches. The CLI fills
// both from the scenario and its flags; renderers only read them.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace clustersim::reports {

struct ReportContext {
  std::string title;  // first line of a report; a default is derived from the trace when empty
  // Ordered (name, value) pairs shown in the report header, e.g. {"model", "gpt3-175b"},
  // {"GPUs", "1024 x A100-80GB"}, {"parallelism", "tp 8, pp 16, dp 8"}, {"precision", "bf16"}.
  std::vector<std::pair<std::string, std::string>> facts;
};

struct RenderOptions {
  bool color = false;              // ANSI colors in console output (only when a flag asks)
  bool include_timeline = false;   // JSON: memory timelines and op spans per rank
  std::size_t max_rank_rows = 16;  // console: per-rank lines shown before "... N more ranks"
  std::size_t max_op_rows = 20;    // comparison renderers: op-by-op rows shown (0 = all)
};

}  // namespace clustersim::reports
