// MPI communicators: one MPI_Comm per plan group kind (MPI_Comm_split of MPI_COMM_WORLD by group
// id, keyed by the index in the group), plus a duplicate of MPI_COMM_WORLD for the control plane.
// bf16 and fp16 reductions use user-defined MPI ops that widen to fp32 and round back. Every MPI call
// goes through MPI_CHECK, which turns an error code into clustersim::Error with file and line.
// The C API only: keep Open MPI's and MPICH's deprecated C++ bindings out.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "clustersim/executor/communicator.hpp"
#include "clustersim/executor/numeric.hpp"
#include "clustersim/executor/thread_priority.hpp"
#include "clustersim/plan/error.hpp"

#define MPI_CHECK(call) ::clustersim::executor::mpi_check((call), #call, __FILE__, __LINE__)

namespace clustersim::executor {

void mpi_check(int code, const char* call, const char* file, int line) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  throw Error(std::string("MPI error in ") + call + " (" + file + ":" + std::to_string(line) +
              "): " + std::string(text, static_cast<std::size_t>(len)));
}

namespace {

// Completes a nonblocking MPI operation by polling: MPI_Test, then a sleep of kPollFirst while no
// compute thread of the process runs a kernel (the core is free: compute_idle()), else a sleep
// that doubles from kPollFirst up to kPollCap. A blocking MPI call instead spins in
// MPI's progress loop and yields the core between polls; on a core whose compute thread is busy,
// such a thread runs again only when the scheduler preempts the compute thread, and transfers end
// milliseconds late (tools/p2p-busy-core.cpp: a 128 KiB round trip between two ranks that each
// run a GEMM thread takes 8.0 ms with blocking calls, 0.1-0.2 ms polling with sleeps). A
// sleeping thread is woken by a timer and, as the compute threads run at a lower priority
// (clustersim/executor/thread_priority.hpp), takes the core at once. The back-off bounds what the
// polls cost a compute thread during long waits (a pipeline stage's receive waits tens of ms), at
// the price of completing such a wait up to kPollCap late. With the core free, a collective's or
// rendezvous's later rounds, which MPI progresses only inside a test, would otherwise each wait
// for the other side's backed-off poll: a 4-byte all-reduce whose ranks arrive 1 ms apart took
// 170-380 us with the back-off alone, 45-85 us polling every kPollFirst (tools/collective-skew.cpp).
// Spinning on the free core instead was measured and not kept: it made a 1 MiB all-reduce slower
// (the two ranks' cores share the machine), and a spinning thread that yields keeps a woken
// compute thread's core until the scheduler's next tick.
constexpr auto kPollFirst = std::chrono::microseconds(10), kPollCap = std::chrono::microseconds(200);

// One MPI_Test at a time per process. A 1F1B stage has two threads waiting at once (its send and
// the receive of the next gradient). In a bare two-rank test whose receiver's core ran a nice-19
// compute thread (tools/p2p-second-poller.cpp, 10 runs), a sender saw its receiver's completion a
// median 14-107 us later (p90 34-710 us) with a second thread testing freely, 12-22 us (p90
// 27-475 us) with the tests taking turns, and 15-16 us (p90 29-33 us) waiting alone. In
// gpt-tiny-pp2 runs, the sends with another op of their rank pending saw it a median 31-66 us
// later before (one run), 18-60 us after (three runs).
std::mutex& test_mutex() {
  static std::mutex m;
  return m;
}

void wait_for(MPI_Request& request, MPI_Status* status) {
  // Timer slack: the kernel may delay a sleeping thread's wake-up by this much (50 us by default).
  static thread_local const bool tight_timer = [] {
    use_tight_timer_slack();
    return true;
  }();
  (void)tight_timer;
  int done = 0;
  auto sleep = kPollFirst;
  for (;;) {
    {
      const std::lock_guard lock(test_mutex());
      MPI_CHECK(MPI_Test(&request, &done, status == nullptr ? MPI_STATUS_IGNORE : status));
    }
    if (done != 0) return;
    if (compute_idle()) sleep = kPollFirst;
    std::this_thread::sleep_for(sleep);
    sleep = std::min(kPollCap, 2 * sleep);
  }
}

template <std::uint16_t (*Encode)(float), float (*Decode)(std::uint16_t), bool Max>
void half_reduce(void* in, void* inout, int* len, MPI_Datatype*) {
  const auto* a = static_cast<const std::uint16_t*>(in);
  auto* b = static_cast<std::uint16_t*>(inout);
  for (int i = 0; i < *len; ++i) {
    const float x = Decode(a[i]), y = Decode(b[i]);
    b[i] = Encode(Max ? (x > y ? x : y) : x + y);
  }
}

struct HalfOps {
  MPI_Op bf16_sum = MPI_OP_NULL, bf16_max = MPI_OP_NULL, fp16_sum = MPI_OP_NULL, fp16_max = MPI_OP_NULL;
  HalfOps() {
    MPI_CHECK(MPI_Op_create(&half_reduce<float_to_bf16, bf16_to_float, false>, 1, &bf16_sum));
    MPI_CHECK(MPI_Op_create(&half_reduce<float_to_bf16, bf16_to_float, true>, 1, &bf16_max));
    MPI_CHECK(MPI_Op_create(&half_reduce<float_to_fp16, fp16_to_float, false>, 1, &fp16_sum));
    MPI_CHECK(MPI_Op_create(&half_reduce<float_to_fp16, fp16_to_float, true>, 1, &fp16_max));
  }
};

const HalfOps& half_ops() {
  static const HalfOps ops;  // created after MPI_Init, on first use
  return ops;
}

MPI_Datatype mpi_type(DType d) {
  switch (d) {
    case DType::fp32:
    case DType::tf32:
      return MPI_FLOAT;
    case DType::int32:
      return MPI_INT32_T;
    case DType::int64:
      return MPI_INT64_T;
    case DType::bf16:
    case DType::fp16:
      return MPI_UINT16_T;
    default:
      return MPI_UINT8_T;
  }
}

MPI_Op mpi_op(DType d, ReduceKind op) {
  switch (d) {
    case DType::fp32:
    case DType::tf32:
    case DType::int32:
    case DType::int64:
      return op == ReduceKind::sum ? MPI_SUM : MPI_MAX;
    case DType::bf16:
      return op == ReduceKind::sum ? half_ops().bf16_sum : half_ops().bf16_max;
    case DType::fp16:
      return op == ReduceKind::sum ? half_ops().fp16_sum : half_ops().fp16_max;
    default:
      throw InputError("collective.dtype", "\"" + std::string(to_string(d)) + "\"",
                       "a reducible dtype: \"fp32\", \"tf32\", \"bf16\", \"fp16\", \"int32\" or \"int64\"");
  }
}

int mpi_count(std::int64_t count, const char* what) {
  if (count < 0 || count > INT_MAX)
    throw Error(std::string("MPI ") + what + " of " + std::to_string(count) + " elements exceeds the MPI count limit");
  return static_cast<int>(count);
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator(MPI_Comm comm, std::string description) : comm_(comm), description_(std::move(description)) {
    MPI_CHECK(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
    MPI_CHECK(MPI_Comm_size(comm_, &size_));
    MPI_CHECK(MPI_Comm_rank(comm_, &index_));
  }
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm_);
  }
  int size() const override { return size_; }
  int index() const override { return index_; }
  std::string describe() const override { return description_; }

  void all_reduce(void* buf, std::int64_t count, DType d, ReduceKind op) override {
    MPI_Request r;
    MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, buf, mpi_count(count, "all_reduce"), mpi_type(d), mpi_op(d, op), comm_, &r));
    wait_for(r, nullptr);
  }
  void reduce_scatter(const void* in, void* out, std::int64_t count, DType d, ReduceKind op) override {
    const std::size_t chunk = static_cast<std::size_t>(count * dtype_bytes(d));
    const auto* lo = static_cast<const std::byte*>(in);
    const auto* o = static_cast<std::byte*>(out);
    if (o + chunk > lo && o < lo + chunk * static_cast<std::size_t>(size_)) {  // overlapping: via a copy
      std::vector<std::byte> tmp(chunk);
      MPI_Request r;
      MPI_CHECK(MPI_Ireduce_scatter_block(in, tmp.data(), mpi_count(count, "reduce_scatter"), mpi_type(d),
                                          mpi_op(d, op), comm_, &r));
      wait_for(r, nullptr);
      std::memcpy(out, tmp.data(), chunk);
      return;
    }
    MPI_Request r;
    MPI_CHECK(
        MPI_Ireduce_scatter_block(in, out, mpi_count(count, "reduce_scatter"), mpi_type(d), mpi_op(d, op), comm_, &r));
    wait_for(r, nullptr);
  }
  void all_gather(const void* in, void* out, std::int64_t count, DType d) override {
    const std::size_t chunk = static_cast<std::size_t>(count * dtype_bytes(d));
    const int n = mpi_count(count, "all_gather");
    if (in == static_cast<std::byte*>(out) + chunk * static_cast<std::size_t>(index_)) {
      MPI_Request r;
      MPI_CHECK(MPI_Iallgather(MPI_IN_PLACE, n, mpi_type(d), out, n, mpi_type(d), comm_, &r));
      wait_for(r, nullptr);
      return;
    }
    MPI_Request r;
    MPI_CHECK(MPI_Iallgather(in, n, mpi_type(d), out, n, mpi_type(d), comm_, &r));
    wait_for(r, nullptr);
  }
  void broadcast(void* buf, std::int64_t count, DType d, int root) override {
    MPI_Request r;
    MPI_CHECK(MPI_Ibcast(buf, mpi_count(count, "broadcast"), mpi_type(d), root, comm_, &r));
    wait_for(r, nullptr);
  }
  void reduce(void* buf, std::int64_t count, DType d, ReduceKind op, int root) override {
    const int n = mpi_count(count, "reduce");
    MPI_Request r;
    if (index_ == root) {
      MPI_CHECK(MPI_Ireduce(MPI_IN_PLACE, buf, n, mpi_type(d), mpi_op(d, op), root, comm_, &r));
    } else {
      MPI_CHECK(MPI_Ireduce(buf, nullptr, n, mpi_type(d), mpi_op(d, op), root, comm_, &r));
    }
    wait_for(r, nullptr);
  }
  void all_to_all(const void* in, void* out, std::int64_t count, DType d) override {
    const int n = mpi_count(count, "all_to_all");
    MPI_Request r;
    MPI_CHECK(MPI_Ialltoall(in, n, mpi_type(d), out, n, mpi_type(d), comm_, &r));
    wait_for(r, nullptr);
  }
  void send(const void* buf, std::int64_t bytes, int peer, int tag) override {
    MPI_Request r;
    MPI_CHECK(MPI_Isend(buf, mpi_count(bytes, "send"), MPI_BYTE, peer, tag, comm_, &r));
    wait_for(r, nullptr);
  }
  void recv(void* buf, std::int64_t bytes, int peer, int tag) override {
    MPI_Status status;
    MPI_Request r;
    MPI_CHECK(MPI_Irecv(buf, mpi_count(bytes, "recv"), MPI_BYTE, peer, tag, comm_, &r));
    wait_for(r, &status);
    int got = 0;
    MPI_CHECK(MPI_Get_count(&status, MPI_BYTE, &got));
    if (got != bytes)
      throw Error("recv of " + std::to_string(bytes) + " bytes from member " + std::to_string(peer) + " of " +
                  description_ + " matched a send of " + std::to_string(got) + " bytes");
  }
  void barrier() override { MPI_CHECK(MPI_Barrier(comm_)); }
  void all_reduce_f64(double* buf, std::int64_t count, ReduceKind op) override {
    MPI_Request r;
    MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, buf, mpi_count(count, "all_reduce"), MPI_DOUBLE,
                             op == ReduceKind::sum ? MPI_SUM : MPI_MAX, comm_, &r));
    wait_for(r, nullptr);
  }
  std::vector<std::string> gather_strings(const std::string& mine, int root) override {
    const int len = mpi_count(static_cast<std::int64_t>(mine.size()), "gather");
    std::vector<int> lens(index_ == root ? static_cast<std::size_t>(size_) : 0);
    MPI_CHECK(MPI_Gather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, root, comm_));
    std::vector<int> displs(lens.size());
    std::int64_t total = 0;
    for (std::size_t i = 0; i < lens.size(); ++i) {
      displs[i] = mpi_count(total, "gather");
      total += lens[i];
    }
    std::vector<char> all(static_cast<std::size_t>(total));
    MPI_CHECK(MPI_Gatherv(mine.data(), len, MPI_CHAR, all.data(), lens.data(), displs.data(), MPI_CHAR, root, comm_));
    std::vector<std::string> out;
    for (std::size_t i = 0; i < lens.size(); ++i)
      out.emplace_back(all.data() + displs[i], static_cast<std::size_t>(lens[i]));
    return out;
  }

 private:
  MPI_Comm comm_;
  std::string description_;
  int size_ = 1, index_ = 0;
};

class MpiFactory final : public CommunicatorFactory {
 public:
  MpiFactory() {
    int provided = 0;
    MPI_CHECK(MPI_Query_thread(&provided));
    if (provided < MPI_THREAD_MULTIPLE)
      throw Error("the MPI library runs at thread level " + std::to_string(provided) +
                  "; the executor needs MPI_THREAD_MULTIPLE (one thread per stream)");
    MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
    MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size_));
    MPI_Comm dup;
    MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &dup));
    world_ = std::make_unique<MpiCommunicator>(dup, "world (control)");
  }
  int world_rank() const override { return rank_; }
  int world_size() const override { return size_; }
  std::string backend() const override { return "mpi"; }
  std::unique_ptr<Communicator> create(GroupKind kind, const plan::Group* group, int index) override {
    MPI_Comm comm = MPI_COMM_NULL;
    MPI_CHECK(MPI_Comm_split(MPI_COMM_WORLD, group != nullptr ? group->id : MPI_UNDEFINED, index, &comm));
    const std::string what = std::string(to_string(kind)) + (group ? " group " + std::to_string(group->id) : "");
    if (group == nullptr) return make_self_communicator(what);
    auto c = std::make_unique<MpiCommunicator>(comm, what);
    require(c->size() == static_cast<int>(group->ranks.size()) && c->index() == index,
            "MPI communicator of " + what + " does not match the plan's membership");
    return c;
  }
  Communicator& world() override { return *world_; }
  plan::PollSchedule poll_schedule() const override {
    plan::PollSchedule p;
    p.first_ns = static_cast<double>(std::chrono::nanoseconds(kPollFirst).count());
    p.cap_ns = static_cast<double>(std::chrono::nanoseconds(kPollCap).count());
    return p;
  }

 private:
  int rank_ = 0, size_ = 1;
  std::unique_ptr<MpiCommunicator> world_;
};

}  // namespace

bool mpi_built() {
  return true;
}

MpiSession::MpiSession() {
  int initialized = 0;
  MPI_CHECK(MPI_Initialized(&initialized));
  int provided = 0;
  if (!initialized) {
    // A rank's comm-stream thread waits inside MPI while its compute thread works: ask Open MPI to
    // yield the core while it polls (unless the user chose otherwise).
    ::setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0);
    MPI_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided));
    owns_ = true;
  } else {
    MPI_CHECK(MPI_Query_thread(&provided));
  }
  if (provided < MPI_THREAD_MULTIPLE)
    throw Error("the MPI library provides thread level " + std::to_string(provided) +
                " but the executor needs MPI_THREAD_MULTIPLE (one thread per stream)");
}

MpiSession::~MpiSession() {
  if (!owns_) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

int MpiSession::rank() const {
  int r = 0;
  MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &r));
  return r;
}

int MpiSession::size() const {
  int s = 1;
  MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &s));
  return s;
}

void MpiSession::abort(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
}

std::unique_ptr<CommunicatorFactory> make_mpi_communicators() {
  return std::make_unique<MpiFactory>();
}

}  // namespace clustersim::executor
