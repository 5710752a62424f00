// Scaffolding: replaced by the discrete-event core.
#include "clustersim/engine/simulate.hpp"

namespace clustersim::engine {
plan::Trace simulate(const plan::Plan&, const plan::Hardware&, const SimulationOptions&) {
  throw Error("the simulator is not built yet");
}
}  // namespace clustersim::engine
