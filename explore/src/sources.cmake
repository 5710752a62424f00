set(CLUSTERSIM_EXPLORE_SOURCES
  src/sweep.cpp
  src/estimate.cpp
  src/search.cpp
)
