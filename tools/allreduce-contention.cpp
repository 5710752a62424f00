// Does a busy compute thread on the same rank slow an MPI all-reduce? The follow-up experiment of
// reports/results/cpu-validation.md. Two ranks all-reduce 1.8 MB (the gpt-tiny gradient) 200 times
// each: alone, with a thread per rank running 512^3 OpenBLAS GEMMs, and with a thread per rank
// streaming 64 MiB copies; rank 0 prints mean, median, p10 and p90 in microseconds.
//   mpicxx -O2 -std=c++17 tools/allreduce-contention.cpp -o /tmp/allreduce-contention -lopenblas
//   mpirun --allow-run-as-root --oversubscribe -np 2 /tmp/allreduce-contention
#include <cblas.h>
#include <mpi.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

enum class Load { none, gemm, copy };

}  // namespace

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  openblas_set_num_threads(1);
  const int count = 450000;  // fp32: 1.8 MB
  std::vector<float> buf(count, 1.0f);
  const int n = 512;
  std::vector<float> a(n * n, 0.5f), b(n * n, 0.25f), c(n * n);
  std::vector<char> src(64 << 20, 1), dst(64 << 20, 2);
  const auto run = [&](Load load, const char* label) {
    std::atomic<bool> stop{false};
    std::thread busy;
    if (load == Load::gemm)
      busy = std::thread([&] {
        while (!stop)
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(),
                      n);
      });
    if (load == Load::copy)
      busy = std::thread([&] {
        while (!stop) std::copy(src.begin(), src.end(), dst.begin());
      });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::vector<double> us;
    for (int i = 0; i < 200; ++i) {
      MPI_Barrier(MPI_COMM_WORLD);
      const auto t0 = Clock::now();
      MPI_Allreduce(MPI_IN_PLACE, buf.data(), count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    stop = true;
    if (busy.joinable()) busy.join();
    double mean = 0.0;
    for (double x : us) mean += x / static_cast<double>(us.size());
    std::sort(us.begin(), us.end());
    if (rank == 0)
      std::printf("%-30s mean %5.0f  median %5.0f  p10 %5.0f  p90 %5.0f us\n", label, mean, us[100], us[20], us[180]);
  };
  run(Load::none, "all-reduce alone");
  run(Load::gemm, "all-reduce + GEMM thread");
  run(Load::copy, "all-reduce + copy thread");
  run(Load::none, "all-reduce alone again");
  MPI_Finalize();
  return 0;
}
