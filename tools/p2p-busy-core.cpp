// How long does a 128 KiB point-to-point transfer (a gpt-tiny pipeline activation) take when each
// rank's core also runs a compute thread, as a pipeline stage's does? Two ranks ping-pong 200 times
// from a communication thread, with idle cores and with a thread per rank running 256^3 OpenBLAS
// GEMMs, first with blocking MPI_Send/MPI_Recv, then with MPI_Isend/MPI_Irecv completed by MPI_Test
// polls that sleep 20 us in between (a sleeping poller can take the core at its wake-up, a
// yielding one gets it only at the scheduler's next preemption). Rank 0 prints the round trip's
// median, p10 and p90 in microseconds. The argument says how the threads share the core: "" (as
// they are), "nice" (the GEMM thread at nice 19, as the executor's compute threads), "idle" (the
// GEMM thread SCHED_IDLE), "slice" (a 100 us slice requested for the communication thread),
// "fifo" (the communication thread SCHED_FIFO; needs privileges).
//   mpicxx -O2 -std=c++17 tools/p2p-busy-core.cpp -o /tmp/p2p-busy-core -lopenblas
//   OMPI_MCA_mpi_yield_when_idle=1 mpirun --allow-run-as-root -np 2 /tmp/p2p-busy-core nice
// Development VM (Linux 6.18, 2 vCPUs, ranks bound to a core each), busy cores, median round trip:
// as they are 8.0 ms blocking, 4.0 ms polling; nice 3.8 ms blocking, 0.11-0.22 ms polling;
// slice 4.1 ms / 0.18 ms (p90 2.0 ms); fifo 0.06 / 0.08 ms; idle cores 0.06-0.17 ms blocking.
// SCHED_IDLE and SCHED_FIFO starve the GEMM thread while a blocking call spins; the executor
// polls with sleeps and lowers its compute threads to nice 19.
#include <cblas.h>
#include <mpi.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct SchedAttr {
  std::uint32_t size, policy;
  std::uint64_t flags;
  std::int32_t nice;
  std::uint32_t priority;
  std::uint64_t runtime, deadline, period;
};

// Variants of how the compute and communication threads share the core.
void tune_compute(const std::string& v) {
  if (v == "idle") {
    sched_param p{};
    if (sched_setscheduler(0, SCHED_IDLE, &p) != 0) std::perror("SCHED_IDLE");
  } else if (v == "nice") {
    if (setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 19) != 0) std::perror("nice");
  }
}
void tune_comm(const std::string& v) {
  if (v == "slice") {
    SchedAttr a{};
    a.size = sizeof a;
    a.policy = SCHED_OTHER;
    a.runtime = 100000;  // ns: a short slice wins the wake-up
    if (syscall(SYS_sched_setattr, 0, &a, 0) != 0) std::perror("sched_setattr");
  } else if (v == "fifo") {
    sched_param p{};
    p.sched_priority = 1;
    if (sched_setscheduler(0, SCHED_FIFO, &p) != 0) std::perror("SCHED_FIFO");
  }
}

void wait_polling(MPI_Request* req) {
  int done = 0;
  for (;;) {
    MPI_Test(req, &done, MPI_STATUS_IGNORE);
    if (done) return;
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
}

}  // namespace

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  openblas_set_num_threads(1);
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  const int bytes = 128 << 10;
  std::vector<char> buf(bytes, 1);
  const int n = 256;
  std::vector<float> a(n * n, 0.5f), b(n * n, 0.25f), c(n * n);
  const int peer = 1 - rank;
  const std::string variant = argc > 1 ? argv[1] : "";
  for (int mode = 0; mode < 4; ++mode) {
    const bool busy_on = mode >= 2, polling = mode % 2 == 1;
    std::atomic<bool> stop{false};
    std::thread busy;
    if (busy_on)
      busy = std::thread([&] {
        tune_compute(variant);
        while (!stop.load())
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f,
                      c.data(), n);
      });
    std::vector<double> rtt;
    std::thread comm([&] {
      tune_comm(variant);
      MPI_Barrier(MPI_COMM_WORLD);
      for (int i = 0; i < 200; ++i) {
        const auto t0 = Clock::now();
        for (int leg = 0; leg < 2; ++leg) {
          const bool sending = (leg == 0) == (rank == 0);
          MPI_Request req;
          if (polling) {
            if (sending)
              MPI_Isend(buf.data(), bytes, MPI_BYTE, peer, 0, MPI_COMM_WORLD, &req);
            else
              MPI_Irecv(buf.data(), bytes, MPI_BYTE, peer, 0, MPI_COMM_WORLD, &req);
            wait_polling(&req);
          } else if (sending) {
            MPI_Send(buf.data(), bytes, MPI_BYTE, peer, 0, MPI_COMM_WORLD);
          } else {
            MPI_Recv(buf.data(), bytes, MPI_BYTE, peer, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
          }
        }
        rtt.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      }
    });
    comm.join();
    stop = true;
    if (busy.joinable()) busy.join();
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) {
      std::sort(rtt.begin(), rtt.end());
      std::printf("%-6s %-9s %-8s round trip: median %9.1f us, p10 %9.1f, p90 %9.1f\n", variant.c_str(), busy_on ? "gemm" : "idle",
                  polling ? "sleep" : "blocking", rtt[rtt.size() / 2], rtt[rtt.size() / 10],
                  rtt[rtt.size() * 9 / 10]);
    }
  }
  MPI_Finalize();
}
