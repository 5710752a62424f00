set(CLUSTERSIM_EXPLORE_SOURCES
  src/sweep.cpp
  src/estimate.cpp
  src/step_model.cpp
  src/search.cpp
)
