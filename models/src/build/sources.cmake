# Workload builders (scenario -> Plan).
set(CLUSTERSIM_MODELS_BUILD_SOURCES
  build_plan.cpp
  layout.cpp
  parameters.cpp
  pipeline_schedule.cpp
  program_builder.cpp
  transformer.cpp
  vision.cpp
)
