// Does a second thread testing MPI requests slow the completion a sender sees? As in a 1F1B stage
// that waits on its activation send while the receive of the next gradient is pending, rank 0
// sends 128 KiB to rank 1, whose receive was posted first, 300 times at spread-out moments; each
// side completes its request with MPI_Test and 10 us sleeps, and rank 1's core also runs a nice-19
// compute thread (a stage computing). The lag is the sender's completion minus the receiver's.
// Argument: 0 the sender's thread waits alone; 1 a second thread of rank 0 tests a pending
// receive meanwhile; 2 the same, the two threads' MPI_Test calls taking turns under one mutex (as
// the executor's waits do). Rank 0 prints the lag's quartiles, p90 and p99 in microseconds.
//   mpicxx -O2 -std=c++17 tools/p2p-second-poller.cpp -o /tmp/p2p-second-poller
//   mpirun --allow-run-as-root -np 2 /tmp/p2p-second-poller 1
// Development VM (2 vCPUs, Open MPI 4.1, vader with CMA): alone (3 runs), median 15-16 us (p90
// 29-33 us, p99 57-64 us); a second tester (10 runs), median 14-107 us, 27 us or more in half the
// runs (p90 34-710 us, p99 0.3-2.9 ms); taking turns (10 runs), median 12-22 us (p90 27-475 us,
// 105 us or less in 9 runs). Without rank 1's compute thread the second tester moved only the p99
// (1-2 ms against 40-73 us).
#include <mpi.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace {
using Clock = std::chrono::steady_clock;
std::mutex g_test;
int g_mode = 0;

double now_us() { return std::chrono::duration<double, std::micro>(Clock::now().time_since_epoch()).count(); }

void wait(MPI_Request& r) {
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  int done = 0;
  for (;;) {
    if (g_mode == 2) {
      const std::lock_guard<std::mutex> lock(g_test);
      MPI_Test(&r, &done, MPI_STATUS_IGNORE);
    } else {
      MPI_Test(&r, &done, MPI_STATUS_IGNORE);
    }
    if (done) return;
    std::this_thread::sleep_for(std::chrono::microseconds(10));
  }
}
}  // namespace

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  g_mode = argc > 1 ? std::atoi(argv[1]) : 0;
  constexpr int n = 300, bytes = 1 << 17;
  std::vector<char> buf(bytes, 1);
  std::vector<double> ends(n), other(n);
  std::atomic<bool> finished{false};
  std::thread compute, second;
  char dummy = 0;
  MPI_Request pending;
  if (rank == 1)
    compute = std::thread([&] {
      setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 19);
      volatile double x = 1.0;
      while (!finished.load(std::memory_order_relaxed))
        for (int k = 0; k < 1000; ++k) x = std::sqrt(x + 1.0);
    });
  if (rank == 0 && g_mode > 0) {
    MPI_Irecv(&dummy, 1, MPI_CHAR, 1, 9, MPI_COMM_WORLD, &pending);
    second = std::thread([&] { wait(pending); });
  }
  for (int i = 0; i < n; ++i) {
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Request r;
    if (rank == 1) {
      MPI_Irecv(buf.data(), bytes, MPI_CHAR, 0, 1, MPI_COMM_WORLD, &r);
      std::thread([&] {
        wait(r);
        ends[static_cast<std::size_t>(i)] = now_us();
      }).join();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(500 + (i * 37) % 400));
      std::thread([&] {
        MPI_Isend(buf.data(), bytes, MPI_CHAR, 1, 1, MPI_COMM_WORLD, &r);
        wait(r);
        ends[static_cast<std::size_t>(i)] = now_us();
      }).join();
    }
  }
  if (rank == 1) {
    MPI_Send(ends.data(), n, MPI_DOUBLE, 0, 5, MPI_COMM_WORLD);
    MPI_Send(&dummy, 1, MPI_CHAR, 0, 9, MPI_COMM_WORLD);
  } else {
    MPI_Recv(other.data(), n, MPI_DOUBLE, 1, 5, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (second.joinable()) second.join();
    std::vector<double> lag(n);
    for (int i = 0; i < n; ++i) lag[static_cast<std::size_t>(i)] = ends[static_cast<std::size_t>(i)] - other[static_cast<std::size_t>(i)];
    std::sort(lag.begin(), lag.end());
    std::printf("mode %d: lag p25 %.0f us, median %.0f, p75 %.0f, p90 %.0f, p99 %.0f\n", g_mode, lag[n / 4], lag[n / 2],
                lag[3 * n / 4], lag[9 * n / 10], lag[99 * n / 100]);
  }
  finished = true;
  if (compute.joinable()) compute.join();
  MPI_Finalize();
}
