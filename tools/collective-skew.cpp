// How long does a collective take when its ranks arrive apart, completed by polls? Two ranks
// all-reduce 4 B, 128 KiB and 1.75 MiB (a gpt-tiny gradient bucket); rank 1 arrives `skew` us after
// rank 0 (0, 30, 100, 300, 1000, 3000), after a spin. Each rank completes its MPI_Iallreduce with
// MPI_Test and sleeps between tests: 10 us doubling to `cap` us, as the CPU executor's waits while a
// compute kernel runs (cap 200), or every 10 us, as while none runs (cap 10). The transfer is
// measured as the comparison does: from the later arrival to each rank's end. Rank 0 prints the
// medians of 30 repetitions, for the early and the late rank.
//   mpicxx -O2 -std=c++17 tools/collective-skew.cpp -o /tmp/collective-skew
//   mpirun --allow-run-as-root -np 2 /tmp/collective-skew 200   (and: ... /tmp/collective-skew 10)
#include <mpi.h>
#include <sys/prctl.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {
double now_us() {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  int me = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &me);
  const auto cap = std::chrono::microseconds(argc > 1 ? std::atoi(argv[1]) : 200);
  for (const long bytes : {4L, 131072L, 1835008L})
    for (const int skew : {0, 30, 100, 300, 1000, 3000}) {
      std::vector<float> in(static_cast<std::size_t>(bytes / 4), 1.0f), out(in.size());
      std::vector<double> early, late;
      for (int rep = 0; rep <= 30; ++rep) {
        MPI_Barrier(MPI_COMM_WORLD);
        const double t0 = now_us();
        if (me == 1)
          while (now_us() - t0 < skew) {
          }
        const double post = now_us();
        MPI_Request r;
        MPI_Iallreduce(in.data(), out.data(), static_cast<int>(in.size()), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &r);
        int done = 0;
        auto sleep = std::chrono::microseconds(10);
        for (;;) {
          MPI_Test(&r, &done, MPI_STATUS_IGNORE);
          if (done) break;
          std::this_thread::sleep_for(sleep);
          sleep = std::min(cap, 2 * sleep);
        }
        const double end = now_us();
        double last = 0.0;
        MPI_Allreduce(&post, &last, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        double mine[2] = {me == 0 ? end - last : 0.0, me == 1 ? end - last : 0.0}, both[2];
        MPI_Allreduce(mine, both, 2, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        if (rep > 0) {  // the first is a warm-up
          early.push_back(both[0]);
          late.push_back(both[1]);
        }
      }
      if (me == 0)
        std::printf("%8ld bytes, rank 1 %5d us later: early rank %7.1f us, late rank %7.1f us\n", bytes, skew,
                    median(early), median(late));
    }
  MPI_Finalize();
}
