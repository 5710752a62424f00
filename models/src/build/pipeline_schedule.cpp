// Pipeline schedules; see pipeline_schedule.hpp for the sources.
#include "pipeline_schedule.hpp"

#include <algorithm>

#include "clustersim/plan/error.hpp"

namespace clustersim::models::build {

namespace {

std::vector<PipelineStep> gpipe(std::int32_t m) {
  std::vector<PipelineStep> out;
  for (std::int32_t i = 0; i < m; ++i) out.push_back({true, i, 0});
  for (std::int32_t i = m - 1; i >= 0; --i) out.push_back({false, i, 0});
  return out;
}

std::vector<PipelineStep> one_forward_one_backward(std::int32_t p, std::int32_t s, std::int32_t m) {
  std::vector<PipelineStep> out;
  const std::int32_t warmup = std::min(p - s - 1, m);
  for (std::int32_t i = 0; i < warmup; ++i) out.push_back({true, i, 0});
  for (std::int32_t i = 0; i < m - warmup; ++i) {
    out.push_back({true, warmup + i, 0});
    out.push_back({false, i, 0});
  }
  for (std::int32_t i = m - warmup; i < m; ++i) out.push_back({false, i, 0});
  return out;
}

// Megatron-LM get_model_chunk_id / microbatch numbering for the interleaved schedule.
std::vector<PipelineStep> interleaved(std::int32_t p, std::int32_t s, std::int32_t m, std::int32_t v) {
  require(m % p == 0, "interleaved schedule needs micro-batches divisible by stages");
  const std::int32_t total = m * v;
  std::int32_t warmup = (m == p) ? total : std::min((p - s - 1) * 2 + (v - 1) * p, total);
  auto chunk_of = [&](std::int32_t k, bool forward) {
    const std::int32_t c = (k % (p * v)) / p;
    return forward ? c : v - 1 - c;
  };
  auto microbatch_of = [&](std::int32_t k) { return (k / (p * v)) * p + k % p; };
  std::vector<PipelineStep> out;
  for (std::int32_t k = 0; k < warmup; ++k) out.push_back({true, microbatch_of(k), chunk_of(k, true)});
  const std::int32_t remaining = total - warmup;
  for (std::int32_t i = 0; i < remaining; ++i) {
    out.push_back({true, microbatch_of(warmup + i), chunk_of(warmup + i, true)});
    out.push_back({false, microbatch_of(i), chunk_of(i, false)});
  }
  for (std::int32_t k = remaining; k < total; ++k) out.push_back({false, microbatch_of(k), chunk_of(k, false)});
  return out;
}

}  // namespace

std::vector<PipelineStep> pipeline_schedule(PipelineSchedule schedule, std::int32_t stages, std::int32_t stage,
                                            std::int32_t microbatches, std::int32_t chunks) {
  switch (schedule) {
    case PipelineSchedule::gpipe:
      return gpipe(microbatches);
    case PipelineSchedule::one_f_one_b:
      return one_forward_one_backward(stages, stage, microbatches);
    case PipelineSchedule::interleaved_1f1b:
      return chunks > 1 ? interleaved(stages, stage, microbatches, chunks)
                        : one_forward_one_backward(stages, stage, microbatches);
  }
  return {};
}

}  // namespace clustersim::models::build
