// The compute threads' priority (clustersim/executor/thread_priority.hpp): the environment knob is
// checked, and lowering applies to the calling thread only.
#include "clustersim/executor/thread_priority.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>

#include "clustersim/plan/error.hpp"

namespace clustersim::executor {
namespace {

// Sets CLUSTERSIM_COMPUTE_NICE for one test and restores what was there.
class NiceEnv {
 public:
  explicit NiceEnv(const char* value) {
    if (const char* old = std::getenv(kName)) old_ = old;
    if (value == nullptr)
      ::unsetenv(kName);
    else
      ::setenv(kName, value, 1);
  }
  ~NiceEnv() {
    if (old_)
      ::setenv(kName, old_->c_str(), 1);
    else
      ::unsetenv(kName);
  }

 private:
  static constexpr const char* kName = "CLUSTERSIM_COMPUTE_NICE";
  std::optional<std::string> old_;
};

int thread_nice() {
  errno = 0;
  return ::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)));
}

// The nice value of a new thread after it called lower_compute_thread_priority().
int nice_of_a_lowered_thread() {
  int nice = -100;
  std::thread t([&] {
    lower_compute_thread_priority();
    nice = thread_nice();
  });
  t.join();
  return nice;
}

TEST(ThreadPriority, DefaultsToTheLowestPriority) {
  NiceEnv env(nullptr);
  EXPECT_EQ(compute_nice(), 19);
}

TEST(ThreadPriority, ReadsTheEnvironment) {
  NiceEnv env("7");
  EXPECT_EQ(compute_nice(), 7);
}

TEST(ThreadPriority, RejectsValuesOutsideZeroToNineteen) {
  for (const char* bad : {"20", "-1", "abc", "5x", " 3"}) {
    NiceEnv env(bad);
    try {
      (void)compute_nice();
      ADD_FAILURE() << "accepted \"" << bad << "\"";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("CLUSTERSIM_COMPUTE_NICE"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
}

TEST(ThreadPriority, LowersOnlyTheCallingThread) {
  NiceEnv env("11");
  const int before = thread_nice();
  EXPECT_EQ(nice_of_a_lowered_thread(), before > 11 ? before : 11);  // a thread already lower stays where it is
  EXPECT_EQ(thread_nice(), before);
}

TEST(ThreadPriority, ZeroLeavesTheThreadAlone) {
  NiceEnv env("0");
  EXPECT_EQ(nice_of_a_lowered_thread(), thread_nice());
}

}  // namespace
}  // namespace clustersim::executor
