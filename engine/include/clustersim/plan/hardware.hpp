// The resolved hardware a plan runs on: one GPU type, the links inside and between nodes, the
// fabric shape, and perturbations (stragglers, degraded links). models:: resolves it from a scenario
// and the catalogs; the engine reads it; it knows nothing of JSON files or catalogs itself.
// Units are in the names: bandwidth_gbps is gigabits per second per direction, *_gbytes_s is
// gigabytes (1e9 bytes) per second, latency_us microseconds, memory_gib gibibytes.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "clustersim/plan/types.hpp"

namespace clustersim::plan {

// Achieved fraction of peak as a function of work size: eff(x) = max * x / (x + half), where x is
// the op's FLOPs (compute-bound kinds) or bytes (memory-bound kinds) and `half` the size at which
// half of `max` is reached. half = 0 means a constant `max`.
struct EfficiencyCurve {
  double max = 1.0;
  double half = 0.0;
  double at(double x) const { return half <= 0.0 ? max : max * x / (x + half); }
};

struct GpuSpec {
  std::string name;
  double memory_gib = 0.0;
  double memory_bandwidth_gbytes_s = 0.0;
  std::map<DType, double> peak_tflops;  // dense, per operand dtype (fp32, tf32, fp16, bf16, fp8_e4m3)
  std::int32_t sm_count = 0;
  double tdp_w = 0.0;
  double price_usd_per_hour = 0.0;  // for the cost objective; 0 when unknown
  // Roofline efficiencies by op class: "gemm", "attention", "conv", "memory" (elementwise, norms,
  // casts, optimizer), and the fraction of capacity usable by tensors ("usable_memory", e.g. 0.95 to
  // leave room for the CUDA context and fragmentation).
  std::map<std::string, EfficiencyCurve> efficiency;
  double usable_memory_fraction = 0.95;
  std::int64_t kernel_launch_ns = 4000;  // fixed overhead per kernel
  double peak_tflops_for(DType dtype) const;  // throws InputError when the GPU has no rate for it
};

struct LinkSpec {
  std::string name;
  double bandwidth_gbps = 0.0;  // per direction, per link (per GPU for intra-node fabrics)
  double latency_us = 0.0;
  double efficiency = 1.0;      // achievable fraction of line rate for large messages
  double bytes_per_s() const { return bandwidth_gbps * 1e9 / 8.0 * efficiency; }
};

enum class FabricTopology : std::uint8_t { single_switch, fat_tree, rail_fat_tree };

struct InterNode {
  LinkSpec link;
  std::int32_t nics_per_node = 1;  // one rail each; rail i serves local GPU i (rail-optimised)
  FabricTopology topology = FabricTopology::rail_fat_tree;
  std::int32_t nodes_per_leaf = 32;   // nodes under one leaf switch (per rail in rail_fat_tree)
  double oversubscription = 1.0;      // leaf downlink : uplink bandwidth ratio (>= 1)
};

struct RankSlowdown {
  std::int32_t rank = 0;
  double compute_factor = 1.0;  // op durations multiplied by this on that rank
};

struct LinkDegradation {
  std::string where;             // "node:<n>" (its NICs), "leaf:<l>" (its uplinks), "intra:<n>" (NVLink of node n)
  double bandwidth_factor = 1.0;  // remaining fraction of bandwidth (0 < f <= 1)
};

struct Hardware {
  std::string name;  // e.g. "128 x DGX-H100"
  GpuSpec gpu;
  std::int32_t nodes = 1;
  std::int32_t gpus_per_node = 1;
  LinkSpec intra_node;  // NVSwitch / NVLink / PCIe: per-GPU bandwidth into the node fabric
  InterNode inter_node;
  LinkSpec host_link;   // GPU <-> host memory (PCIe), for offload and input
  std::vector<RankSlowdown> slowdowns;
  std::vector<LinkDegradation> degradations;

  std::int32_t world_size() const { return nodes * gpus_per_node; }
  std::int32_t node_of(std::int32_t rank) const { return rank / gpus_per_node; }
  std::int64_t usable_memory_bytes() const;
};

}  // namespace clustersim::plan
