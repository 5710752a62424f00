# Warnings as errors on our own code only (third-party headers come in as SYSTEM).
# GCC 12 reports false -Wrestrict positives inside libstdc++'s std::string operator+ at -O3
# (GCC bug 105329, fixed in GCC 13), so that one warning stays a warning there.
set(CLUSTERSIM_GCC_WORKAROUNDS "")
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  set(CLUSTERSIM_GCC_WORKAROUNDS "-Wno-restrict")
endif()
function(clustersim_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Werror -Wno-error=deprecated-declarations ${CLUSTERSIM_GCC_WORKAROUNDS}>
    $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra,-Werror --Werror=all-warnings>)
endfunction()

# Shorthand for a library target with its namespaced alias.
function(clustersim_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  add_library(clustersim::${name} ALIAS ${name})
  set_target_properties(${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  clustersim_warnings(${name})
endfunction()
