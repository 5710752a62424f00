set(CLUSTERSIM_REPORTS_SOURCES
  src/chrome_trace.cpp
)
