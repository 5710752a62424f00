# Source list of the `models` target (explicit, no globbing).
set(CLUSTERSIM_MODELS_SOURCES
  src/formulas.cpp
)
