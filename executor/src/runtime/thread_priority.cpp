#include "clustersim/executor/thread_priority.hpp"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "clustersim/plan/error.hpp"

namespace clustersim::executor {

int compute_nice() {
  const char* env = std::getenv("CLUSTERSIM_COMPUTE_NICE");
  if (env == nullptr || *env == '\0') return 19;
  const std::string text(env);
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text.c_str(), &end, 10);
  if (errno != 0 || !std::isdigit(static_cast<unsigned char>(text[0])) || *end != '\0' || v < 0 || v > 19)
    throw InputError("$CLUSTERSIM_COMPUTE_NICE", "\"" + text + "\"",
                     "an integer nice value from 0 (compute threads keep their priority) to 19");
  return static_cast<int>(v);
}

void lower_compute_thread_priority() {
  const int nice = compute_nice();
  if (nice == 0) return;
#ifdef __linux__
  const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
  errno = 0;
  const int current = ::getpriority(PRIO_PROCESS, tid);
  if (errno == 0 && current >= nice) return;  // already as low: never raise a priority
  if (::setpriority(PRIO_PROCESS, tid, nice) != 0) {
    static std::atomic<bool> reported{false};
    if (!reported.exchange(true))
      std::cerr << "clustersim-worker: cannot lower a compute thread's priority (nice " << nice
                << "): " << std::strerror(errno) << "; transfers may wait for the scheduler\n";
  }
#endif
}

void use_tight_timer_slack() noexcept {
#ifdef PR_SET_TIMERSLACK
  ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
#endif
}

namespace {
std::atomic<int> g_running_kernels{0};
}  // namespace

ComputeActivity::ComputeActivity() noexcept { g_running_kernels.fetch_add(1, std::memory_order_relaxed); }
ComputeActivity::~ComputeActivity() { g_running_kernels.fetch_sub(1, std::memory_order_relaxed); }

bool compute_idle() noexcept { return g_running_kernels.load(std::memory_order_relaxed) == 0; }

}  // namespace clustersim::executor
