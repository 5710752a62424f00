// Internal: the per-rank record file of a run directory (see record.hpp for the format), written
// with one write(2) per line so a killed rank leaves whole lines behind, and an optional fatal-signal
// recorder that appends {"type":"signal"} from an async-signal-safe handler. Also host facts.
#pragma once

#include <cstdint>
#include <string>

#include "clustersim/executor/record.hpp"

namespace clustersim::executor::detail {

class RunDirWriter {
 public:
  // Creates the directory if needed and truncates the rank's file; InputError when it cannot.
  RunDirWriter(const std::string& run_dir, std::int32_t rank, bool record_signals);
  ~RunDirWriter();
  RunDirWriter(const RunDirWriter&) = delete;
  RunDirWriter& operator=(const RunDirWriter&) = delete;
  void begin(std::int32_t program, std::int32_t world_size);
  void step(const StepRecord& step);
  void error(const std::string& message);
  void end(const RankRecord& record);

 private:
  void line(const nlohmann::json& j);
  int fd_ = -1;
  std::int32_t rank_ = 0;
  bool signals_ = false;
};

std::string host_name();
std::int64_t host_memory_bytes();  // MemTotal, 0 when unknown

}  // namespace clustersim::executor::detail
