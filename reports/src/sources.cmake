# Source list of the `reports` target (explicit, no globbing).
set(CLUSTERSIM_REPORTS_SOURCES
  src/analysis.cpp
  src/chrome_trace.cpp
  src/compare.cpp
  src/compare_render.cpp
  src/csv_report.cpp
  src/format.cpp
  src/html_report.cpp
  src/json_report.cpp
  src/reporter.cpp
  src/table_report.cpp
  src/text_table.cpp
  src/trace_index.cpp
)
