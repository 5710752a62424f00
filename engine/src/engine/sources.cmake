# Source list of the `engine` target (explicit, no globbing).
set(CLUSTERSIM_ENGINE_SOURCES
  src/engine/calibration_tables.cpp
  src/engine/collective.cpp
  src/engine/collective_flows.cpp
  src/engine/compute_model.cpp
  src/engine/cost_model.cpp
  src/engine/max_min.cpp
  src/engine/memory_tracker.cpp
  src/engine/network_analytical.cpp
  src/engine/network_flow.cpp
  src/engine/rank_classes.cpp
  src/engine/simulate.cpp
  src/engine/summary.cpp
  src/engine/topology.cpp
  src/engine/workload.cpp
)
