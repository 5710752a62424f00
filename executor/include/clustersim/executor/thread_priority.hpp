// How a CPU rank's threads share its core. A rank runs one thread per stream, usually all on one
// core (Open MPI binds each of two ranks to a core). A communication thread waits for MPI by
// polling: a test, then a short sleep (src/runtime/communicator_mpi.cpp). For its wake-up to take the core
// from a computing thread at once, rather than at the scheduler's next preemption (milliseconds),
// the compute threads run at a lower priority (a higher nice value). Lowering one's own priority
// needs no privilege.
#pragma once

namespace clustersim::executor {

// The nice value of compute threads: CLUSTERSIM_COMPUTE_NICE (0-19; 0 leaves them as they are),
// else 19. Throws InputError naming the variable for any other value.
int compute_nice();

// Lowers the calling thread's priority to compute_nice() (Linux: per thread); a thread already at
// that nice value or lower keeps its own. Best effort: a failure is reported once on stderr and
// the thread runs on at its priority.
void lower_compute_thread_priority();

}  // namespace clustersim::executor
