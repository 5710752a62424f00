# Workload builders (scenario -> Plan).
set(CLUSTERSIM_MODELS_BUILD_SOURCES
)
