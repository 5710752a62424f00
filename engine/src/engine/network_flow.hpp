// The flow network tier (private to the engine; its behaviour is documented in network.hpp): the
// topology graph of topology.hpp, collectives decomposed into phases of flows (collective_flows.hpp),
// max-min fair sharing of links (max_min.hpp).
#pragma once

#include <memory>

#include "clustersim/engine/network.hpp"

namespace clustersim::engine::detail {

std::unique_ptr<NetworkModel> make_flow_network(const plan::Plan& plan, const plan::Hardware& hardware,
                                                const NetworkConfig& config);

}  // namespace clustersim::engine::detail
