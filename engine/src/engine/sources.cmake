# Source list of the `engine` target (explicit, no globbing).
set(CLUSTERSIM_ENGINE_SOURCES
  src/engine/simulate.cpp
)
