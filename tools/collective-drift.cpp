// How steady is one collective on this machine over half a minute? Two ranks all-reduce the
// gpt-tiny gradient (1.8 MB) back to back, after a barrier each, in 30 blocks of 1,000; rank 0
// prints each block's start, median, p10 and p90 in microseconds. On the development VM the median
// alternated between 220-240 us and 900-1,250 us in periods of 4 to 15 s, with nothing else
// running (docs/VALIDATION.md, reports/results/cpu-validation.md).
//   mpicxx -O2 -std=c++17 tools/collective-drift.cpp -o /tmp/collective-drift
//   mpirun --allow-run-as-root --mca mpi_yield_when_idle 1 -np 2 /tmp/collective-drift
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

using Clock = std::chrono::steady_clock;

static double now_us() { return std::chrono::duration<double, std::micro>(Clock::now().time_since_epoch()).count(); }

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  const int count = 462336;  // fp32
  std::vector<float> buf(count, 1.0f);
  const double t0 = now_us();
  for (int block = 0; block < 30; ++block) {
    std::vector<double> t;
    const double start = now_us();
    for (int i = 0; i < 1000; ++i) {  // a fixed count: every rank issues the same collectives
      MPI_Barrier(MPI_COMM_WORLD);
      const double s = now_us();
      MPI_Allreduce(MPI_IN_PLACE, buf.data(), count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      t.push_back(now_us() - s);
    }
    std::sort(t.begin(), t.end());
    if (rank == 0)
      std::printf("t=%5.1fs median %6.0f p10 %6.0f p90 %6.0f us\n", (start - t0) / 1e6, t[t.size() / 2],
                  t[t.size() / 10], t[t.size() * 9 / 10]);
  }
  MPI_Finalize();
}
