// Scaffolding.
#include "clustersim/plan/trace.hpp"
