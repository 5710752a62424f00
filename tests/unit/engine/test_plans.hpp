// Test support for the engine tests: a small builder of hand-made Plans (programs, streams, ops,
// groups, tensors) and a synthetic Hardware with round numbers, so expected times can be written as
// closed-form formulas in the tests themselves.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "clustersim/plan/hardware.hpp"
#include "clustersim/plan/plan.hpp"

namespace clustersim::test {

// A GPU with round numbers: fp32 10 TFLOP/s, tf32 80, bf16/fp16 200, fp8 400; 1000 GB/s HBM; 80 GiB;
// 2 us launch; no efficiency curves (efficiency 1) unless a test sets them. NVSwitch 2400 Gbit/s per
// GPU (300 GB/s), 2 us; NICs of 400 Gbit/s (50 GB/s), 5 us, one per node by default.
inline plan::Hardware test_hardware(std::int32_t nodes, std::int32_t gpus_per_node, std::int32_t nics_per_node = 1) {
  plan::Hardware hw;
  hw.name = std::to_string(nodes) + " x test node";
  hw.nodes = nodes;
  hw.gpus_per_node = gpus_per_node;
  hw.gpu.name = "test-gpu";
  hw.gpu.memory_gib = 80.0;
  hw.gpu.memory_bandwidth_gbytes_s = 1000.0;
  hw.gpu.peak_tflops = {
      {DType::fp32, 10.0}, {DType::tf32, 80.0}, {DType::bf16, 200.0}, {DType::fp16, 200.0}, {DType::fp8_e4m3, 400.0}};
  hw.gpu.kernel_launch_ns = 2000;
  hw.gpu.usable_memory_fraction = 0.95;
  hw.intra_node = {"test-nvswitch", 2400.0, 2.0, 1.0};
  hw.inter_node.link = {"test-nic", 400.0, 5.0, 1.0};
  hw.inter_node.nics_per_node = nics_per_node;
  hw.inter_node.topology = plan::FabricTopology::single_switch;
  hw.host_link = {"test-pcie", 256.0, 1.0, 1.0};
  return hw;
}

class PlanBuilder {
 public:
  explicit PlanBuilder(std::int32_t world) {
    plan_.world_size = world;
    plan_.program_of_rank.assign(static_cast<std::size_t>(world), 0);
    plan_.meta.scenario = "test";
  }

  std::int32_t group(GroupKind kind, std::vector<plan::Rank> ranks) {
    const auto id = static_cast<std::int32_t>(plan_.groups.size());
    plan_.groups.push_back({id, kind, std::move(ranks)});
    return id;
  }
  // One group of `kind` per run of `size` consecutive ranks (stride 1), or per residue class when
  // `strided` (ranks i, i+stride, ...).
  void groups_by(GroupKind kind, std::int32_t size, bool strided = false) {
    const std::int32_t n = plan_.world_size / size;
    for (std::int32_t g = 0; g < n; ++g) {
      std::vector<plan::Rank> ranks;
      for (std::int32_t i = 0; i < size; ++i) ranks.push_back(strided ? g + i * n : g * size + i);
      group(kind, ranks);
    }
  }

  plan::TensorId tensor(std::string name, std::int64_t bytes, TensorRole role = TensorRole::activation,
                        bool persistent = false) {
    plan::Tensor t;
    t.id = static_cast<plan::TensorId>(plan_.tensors.size());
    t.name = std::move(name);
    t.dtype = DType::uint8;
    t.shape = {bytes};
    t.bytes = bytes;
    t.role = role;
    t.persistent = persistent;
    plan_.tensors.push_back(t);
    return t.id;
  }
  plan::TensorId view(std::string name, plan::TensorId base, std::int64_t offset, std::int64_t bytes) {
    const plan::TensorId id = tensor(std::move(name), bytes, plan_.tensors[static_cast<std::size_t>(base)].role);
    plan_.tensors[static_cast<std::size_t>(id)].view_of = base;
    plan_.tensors[static_cast<std::size_t>(id)].offset_bytes = offset;
    return id;
  }

  std::int32_t program(std::string name, std::vector<StreamKind> streams = {StreamKind::compute}) {
    plan::Program p;
    p.id = static_cast<std::int32_t>(plan_.programs.size());
    p.name = std::move(name);
    for (std::size_t i = 0; i < streams.size(); ++i)
      p.streams.push_back({static_cast<plan::StreamId>(i), "s" + std::to_string(i), streams[i]});
    plan_.programs.push_back(std::move(p));
    return plan_.programs.back().id;
  }
  void persistent(std::int32_t program, plan::TensorId t) { prog(program).persistent.push_back(t); }
  void assign(plan::Rank rank, std::int32_t program) {
    plan_.program_of_rank[static_cast<std::size_t>(rank)] = program;
  }

  plan::OpId op(std::int32_t program, std::string name, plan::StreamId stream, plan::OpParams params, OpKind kind,
                std::vector<plan::OpId> deps = {}) {
    plan::Program& p = prog(program);
    plan::Op o;
    o.id = static_cast<plan::OpId>(p.ops.size());
    o.name = std::move(name);
    o.kind = kind;
    o.stream = stream;
    o.params = std::move(params);
    o.deps = std::move(deps);
    p.ops.push_back(std::move(o));
    return p.ops.back().id;
  }
  plan::OpId gemm(std::int32_t program, plan::StreamId stream, std::int64_t m, std::int64_t n, std::int64_t k,
                  DType dtype, std::vector<plan::OpId> deps = {}) {
    plan::GemmParams g;
    g.m = m, g.n = n, g.k = k, g.dtype = dtype;
    return op(program, "gemm", stream, g, OpKind::gemm, std::move(deps));
  }
  plan::OpId elementwise(std::int32_t program, plan::StreamId stream, std::int64_t bytes_read,
                         std::int64_t bytes_written, double flops = 0.0, std::vector<plan::OpId> deps = {}) {
    plan::ElementwiseParams e;
    e.name = "gelu", e.bytes_read = bytes_read, e.bytes_written = bytes_written, e.flops = flops;
    return op(program, "gelu", stream, e, OpKind::elementwise, std::move(deps));
  }
  plan::OpId delay(std::int32_t program, plan::StreamId stream, std::int64_t ns, std::vector<plan::OpId> deps = {},
                   std::string name = "delay") {
    return op(program, std::move(name), stream, plan::DelayParams{ns, "test"}, OpKind::delay, std::move(deps));
  }
  plan::OpId collective(std::int32_t program, plan::StreamId stream, CollectiveType type, GroupKind group,
                        std::int64_t bytes, std::vector<plan::OpId> deps = {}) {
    plan::CollectiveParams c;
    c.type = type, c.group = group, c.bytes = bytes;
    return op(program, std::string(to_string(type)), stream, c, OpKind::collective, std::move(deps));
  }
  plan::OpId send(std::int32_t program, plan::StreamId stream, GroupKind group, std::int32_t offset, std::int64_t bytes,
                  std::vector<plan::OpId> deps = {}, std::int32_t tag = 0) {
    return op(program, "send", stream, p2p(group, offset, bytes, tag), OpKind::send, std::move(deps));
  }
  plan::OpId recv(std::int32_t program, plan::StreamId stream, GroupKind group, std::int32_t offset, std::int64_t bytes,
                  std::vector<plan::OpId> deps = {}, std::int32_t tag = 0) {
    return op(program, "recv", stream, p2p(group, offset, bytes, tag), OpKind::recv, std::move(deps));
  }
  plan::Op& at(std::int32_t program, plan::OpId id) { return prog(program).ops[static_cast<std::size_t>(id)]; }

  plan::Plan& plan() { return plan_; }
  plan::Plan build() const { return plan_; }

 private:
  static plan::P2PParams p2p(GroupKind group, std::int32_t offset, std::int64_t bytes, std::int32_t tag) {
    plan::P2PParams p;
    p.group = group, p.peer_offset = offset, p.bytes = bytes, p.tag = tag;
    return p;
  }
  plan::Program& prog(std::int32_t id) { return plan_.programs[static_cast<std::size_t>(id)]; }
  plan::Plan plan_;
};

}  // namespace clustersim::test
