// How a CPU rank's threads share its core. A rank runs one thread per stream, usually all on one
// core (Open MPI binds each of two ranks to a core). A communication thread waits for MPI by
// polling: a test, then a short sleep (src/runtime/communicator_mpi.cpp). For its wake-up to take the core
// from a computing thread at once, rather than at the scheduler's next preemption (milliseconds),
// the compute threads run at a lower priority (a higher nice value). Lowering one's own priority
// needs no privilege. While no compute thread of the process runs a kernel, the core has nothing
// else to do, and a waiting thread polls at its shortest interval (compute_idle()).
#pragma once

namespace clustersim::executor {

// The nice value of compute threads: CLUSTERSIM_COMPUTE_NICE (0-19; 0 leaves them as they are),
// else 19. Throws InputError naming the variable for any other value.
int compute_nice();

// Lowers the calling thread's priority to compute_nice() (Linux: per thread); a thread already at
// that nice value or lower keeps its own. Best effort: a failure is reported once on stderr and
// the thread runs on at its priority.
void lower_compute_thread_priority();

// Lets the kernel wake the calling thread's sleeps at most 1 ns late rather than its default
// 50 us timer slack (Linux: per thread; elsewhere nothing). A polling thread calls it once.
void use_tight_timer_slack() noexcept;

// Marks the calling thread as running a compute kernel for its lifetime (a worker's compute stream
// while it executes an op, a calibration's GEMM loop). Process-wide: a rank's threads share a core.
class ComputeActivity {
 public:
  ComputeActivity() noexcept;
  ~ComputeActivity();
  ComputeActivity(const ComputeActivity&) = delete;
  ComputeActivity& operator=(const ComputeActivity&) = delete;
};

// True while no ComputeActivity is alive in this process: a waiting communication thread's polls
// then take the core from nobody.
bool compute_idle() noexcept;

}  // namespace clustersim::executor
