// Stand-ins for the MPI entry points when the library is built without MPI: they fail clearly.
#include "clustersim/executor/communicator.hpp"
#include "clustersim/plan/error.hpp"

namespace clustersim::executor {

namespace {
[[noreturn]] void no_mpi() {
  throw Error("this build of clustersim has no MPI (configure with MPI found to run multi-rank)");
}
}  // namespace

bool mpi_built() {
  return false;
}
MpiSession::MpiSession() {
  no_mpi();
}
MpiSession::~MpiSession() = default;
int MpiSession::rank() const {
  return 0;
}
int MpiSession::size() const {
  return 1;
}
void MpiSession::abort(int) {}
std::unique_ptr<CommunicatorFactory> make_mpi_communicators() {
  no_mpi();
}

}  // namespace clustersim::executor
