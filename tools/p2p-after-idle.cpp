// How long does a transfer take into a rank that has idled for a while, as a 1F1B pipeline stage
// idles in its bubble before the next activation arrives? Rank 1 posts a receive and waits for it
// as the CPU executor does while its rank computes nothing (MPI_Test, then a 10 us sleep, with a
// 1 ns timer slack); rank 0 keeps its core busy for `idle` us (a spin, like a compute kernel) and
// then sends. For 2 KiB and 128 KiB and idle times of 0.5, 5 and 20 ms, 40 repetitions each, rank 0
// prints the medians of the receive's end and of the send's end, both after the send's post.
//   mpicxx -O2 -std=c++17 tools/p2p-after-idle.cpp -o /tmp/p2p-after-idle
//   mpirun --allow-run-as-root -np 2 /tmp/p2p-after-idle
#include <mpi.h>
#include <sys/prctl.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

namespace {
double now_us() {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
void wait_polling(MPI_Request& r) {
  int done = 0;
  for (;;) {
    MPI_Test(&r, &done, MPI_STATUS_IGNORE);
    if (done) return;
    std::this_thread::sleep_for(std::chrono::microseconds(10));
  }
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
  for (const long bytes : {2048L, 131072L})
    for (const double idle : {500.0, 5000.0, 20000.0}) {
      std::vector<char> buf(static_cast<std::size_t>(bytes));
      std::vector<double> recv_after, send_after;
      for (int rep = 0; rep <= 40; ++rep) {
        MPI_Barrier(MPI_COMM_WORLD);
        const double t0 = now_us();
        double post = 0.0, end = 0.0;
        MPI_Request r;
        if (me == 1) {
          MPI_Irecv(buf.data(), static_cast<int>(bytes), MPI_CHAR, 0, 1, MPI_COMM_WORLD, &r);
          wait_polling(r);
          end = now_us();
        } else if (me == 0) {
          while (now_us() - t0 < idle) {
          }
          post = now_us();
          MPI_Isend(buf.data(), static_cast<int>(bytes), MPI_CHAR, 1, 1, MPI_COMM_WORLD, &r);
          wait_polling(r);
          end = now_us();
        }
        double mine[3] = {me == 0 ? post : 0.0, me == 1 ? end : 0.0, me == 0 ? end : 0.0}, all[3];
        MPI_Allreduce(mine, all, 3, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);  // one steady clock per host
        if (rep > 0) {  // the first is a warm-up
          recv_after.push_back(all[1] - all[0]);
          send_after.push_back(all[2] - all[0]);
        }
      }
      if (me == 0)
        std::printf("%7ld bytes after %6.1f ms idle: recv ends %6.1f us, send %6.1f us after the send's post\n", bytes,
                    idle / 1000.0, median(recv_after), median(send_after));
    }
  MPI_Finalize();
}
