# Source list of the `models` target (explicit, no globbing). The workload builders are listed in
# src/build/sources.cmake.
set(CLUSTERSIM_MODELS_SOURCES
  src/catalog.cpp
  src/formulas.cpp
  src/parameter_count.cpp
  src/scenario.cpp
  src/scenario_overrides.cpp
)
