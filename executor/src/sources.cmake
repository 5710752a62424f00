set(CLUSTERSIM_EXECUTOR_SOURCES
  src/cpu/scaffold.cpp
)
