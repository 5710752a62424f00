// Does a collective take longer after the rank has computed for a while? The experiment behind the
// compute gap of the run-like collective calibration (docs/VALIDATION.md). Two ranks all-reduce the
// gpt-tiny gradient (1.8 MB) after 0, 1, 5, 20 and 50 ms of single-threaded 256^3 GEMMs, the gaps
// interleaved within each of 25 rounds (so a drift of the machine moves all of them alike), with a
// barrier before the all-reduce (no arrival skew); rank 0 prints each gap's median and its median
// ratio to the back-to-back all-reduce of the same round.
//   mpicxx -O2 -std=c++17 tools/collective-after-compute.cpp -o /tmp/collective-after-compute -lopenblas
//   mpirun --allow-run-as-root --mca mpi_yield_when_idle 1 -np 2 /tmp/collective-after-compute
#include <cblas.h>
#include <mpi.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>
using Clock = std::chrono::steady_clock;
static double now_us() { return std::chrono::duration<double, std::micro>(Clock::now().time_since_epoch()).count(); }
int main(int argc, char** argv) {
  int provided; MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  int rank; MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  openblas_set_num_threads(1);
  const int count = 462336;
  std::vector<float> buf(count, 1.0f);
  const int n = 256;
  std::vector<float> a(n*n, .5f), b(n*n, .25f), c(n*n);
  std::vector<double> gaps{0, 1, 5, 20, 50};
  std::vector<std::vector<double>> tr(gaps.size()), ratio(gaps.size());
  for (int it = 0; it < 25; ++it) {
    double base = 0;
    for (size_t g = 0; g < gaps.size(); ++g) {
      MPI_Barrier(MPI_COMM_WORLD);
      double t0 = now_us();
      while (now_us() - t0 < gaps[g]*1000) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a.data(), n, b.data(), n, 0, c.data(), n);
      MPI_Barrier(MPI_COMM_WORLD);
      double s = now_us();
      MPI_Allreduce(MPI_IN_PLACE, buf.data(), count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      double d = now_us() - s;
      if (g == 0) base = d;
      tr[g].push_back(d); ratio[g].push_back(d / base);
    }
  }
  if (rank == 0) for (size_t g = 0; g < gaps.size(); ++g) {
    auto t = tr[g]; std::sort(t.begin(), t.end()); auto r = ratio[g]; std::sort(r.begin(), r.end());
    printf("gap %4.0f ms: median %6.0f p10 %6.0f p90 %6.0f   ratio to back-to-back median %.2f\n", gaps[g], t[t.size()/2], t[t.size()/10], t[t.size()*9/10], r[r.size()/2]);
  }
  MPI_Finalize();
}
