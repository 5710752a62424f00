// Plan IR helpers: the derived rank -> group index, op FLOP counts, and the structural validator
// that every builder's output passes before an interpreter sees it.
#include "clustersim/plan/plan.hpp"
#include "clustersim/plan/trace.hpp"

#include <array>
#include <numeric>
#include <string>
#include <type_traits>

namespace clustersim::plan {

std::int64_t Tensor::elements() const {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return shape.empty() ? 0 : n;
}

RankGroups::RankGroups(const Plan& plan) {
  std::array<std::int32_t, kGroupKindCount> none{};
  none.fill(kNone);
  std::array<std::int32_t, kGroupKindCount> zero{};
  group_.assign(static_cast<std::size_t>(plan.world_size), none);
  index_.assign(static_cast<std::size_t>(plan.world_size), zero);
  for (const auto& g : plan.groups) {
    for (std::size_t i = 0; i < g.ranks.size(); ++i) {
      const Rank r = g.ranks[i];
      require(r >= 0 && r < plan.world_size, "group " + std::to_string(g.id) + " names rank " + std::to_string(r));
      auto& slot = group_[static_cast<std::size_t>(r)][static_cast<std::size_t>(g.kind)];
      require(slot == kNone, "rank " + std::to_string(r) + " is in two " + std::string(to_string(g.kind)) + " groups");
      slot = g.id;
      index_[static_cast<std::size_t>(r)][static_cast<std::size_t>(g.kind)] = static_cast<std::int32_t>(i);
    }
  }
}

std::int32_t RankGroups::group_of(Rank rank, GroupKind kind) const {
  return group_.at(static_cast<std::size_t>(rank))[static_cast<std::size_t>(kind)];
}

std::int32_t RankGroups::index_in_group(Rank rank, GroupKind kind) const {
  return index_.at(static_cast<std::size_t>(rank))[static_cast<std::size_t>(kind)];
}

OpKind kind_of(const OpParams& params) {
  return std::visit(
      [](const auto& p) -> OpKind {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, GemmParams>) return OpKind::gemm;
        else if constexpr (std::is_same_v<T, AttentionParams>) return OpKind::attention;
        else if constexpr (std::is_same_v<T, Conv2dParams>) return OpKind::conv2d;
        else if constexpr (std::is_same_v<T, ElementwiseParams>) return OpKind::elementwise;
        else if constexpr (std::is_same_v<T, NormParams>) return OpKind::norm;
        else if constexpr (std::is_same_v<T, SoftmaxXentParams>) return OpKind::softmax_xent;
        else if constexpr (std::is_same_v<T, EmbeddingParams>) return OpKind::embedding;
        else if constexpr (std::is_same_v<T, OptimizerParams>) return OpKind::optimizer;
        else if constexpr (std::is_same_v<T, CastParams>) return OpKind::cast;
        else if constexpr (std::is_same_v<T, CollectiveParams>) return OpKind::collective;
        else if constexpr (std::is_same_v<T, P2PParams>) return OpKind::send;  // or recv: Op::kind decides
        else if constexpr (std::is_same_v<T, IoParams>) return OpKind::io;
        else return OpKind::delay;
      },
      params);
}

double op_flops(const Op& op) {
  return std::visit(
      [&](const auto& p) -> double {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, GemmParams>) {
          return 2.0 * static_cast<double>(p.m) * static_cast<double>(p.n) * static_cast<double>(p.k) *
                 static_cast<double>(p.batch);
        } else if constexpr (std::is_same_v<T, AttentionParams>) {
          // Two products (Q K^T and P V) of 2*T_q*T_kv*d each per head; FlashAttention skips the
          // masked half under causality; the backward pass does 5 products where the forward does 2
          // (flash, recomputing Q K^T) or 4 (non-flash). Dao et al. 2022/2023.
          double f = 4.0 * static_cast<double>(p.batch) * static_cast<double>(p.heads) *
                     static_cast<double>(p.seq_q) * static_cast<double>(p.seq_kv) * static_cast<double>(p.head_dim);
          if (p.flash && p.causal) f *= 0.5;
          if (p.direction == Direction::backward) f *= p.flash ? 2.5 : 2.0;
          return f;
        } else if constexpr (std::is_same_v<T, Conv2dParams>) {
          return 2.0 * static_cast<double>(p.batch) * static_cast<double>(p.out_height()) *
                 static_cast<double>(p.out_width()) * static_cast<double>(p.out_channels) *
                 static_cast<double>(p.in_channels) * static_cast<double>(p.kernel_h * p.kernel_w);
        } else if constexpr (std::is_same_v<T, ElementwiseParams>) {
          return p.flops;
        } else if constexpr (std::is_same_v<T, NormParams>) {
          return (p.direction == Direction::forward ? 5.0 : 8.0) * static_cast<double>(p.rows) *
                 static_cast<double>(p.cols);
        } else if constexpr (std::is_same_v<T, SoftmaxXentParams>) {
          return (p.direction == Direction::forward ? 4.0 : 3.0) * static_cast<double>(p.rows) *
                 static_cast<double>(p.vocab);
        } else if constexpr (std::is_same_v<T, EmbeddingParams>) {
          return static_cast<double>(p.batch * p.seq * p.dim);
        } else if constexpr (std::is_same_v<T, OptimizerParams>) {
          return (p.kind == OptimizerKind::adamw ? 12.0 : 4.0) * static_cast<double>(p.params);
        } else {
          return 0.0;
        }
      },
      op.params);
}

std::int64_t op_bytes(const Plan& plan, const Op& op) {
  auto tensor_bytes = [&](const std::vector<TensorId>& ids) {
    std::int64_t total = 0;
    for (TensorId t : ids) total += plan.tensors.at(static_cast<std::size_t>(t)).bytes;
    return total;
  };
  return std::visit(
      [&](const auto& p) -> std::int64_t {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, ElementwiseParams>) {
          return p.bytes_read + p.bytes_written;
        } else if constexpr (std::is_same_v<T, CollectiveParams>) {
          return p.bytes;
        } else if constexpr (std::is_same_v<T, P2PParams>) {
          return p.bytes;
        } else if constexpr (std::is_same_v<T, IoParams>) {
          return p.bytes;
        } else if constexpr (std::is_same_v<T, DelayParams>) {
          return 0;
        } else {
          bool read_modify_write = false;
          if constexpr (std::is_same_v<T, GemmParams>) read_modify_write = p.accumulate;
          if constexpr (std::is_same_v<T, Conv2dParams>) read_modify_write = p.pass == ConvPass::backward_filter;
          if constexpr (std::is_same_v<T, OptimizerParams>) read_modify_write = true;
          if constexpr (std::is_same_v<T, NormParams>) read_modify_write = p.accumulate_dx;
          if constexpr (std::is_same_v<T, EmbeddingParams>) read_modify_write = p.direction == Direction::backward;
          const std::int64_t out = tensor_bytes(op.outputs);
          return tensor_bytes(op.inputs) + (read_modify_write ? 2 * out : out);
        }
      },
      op.params);
}

namespace {

// Every class name, built once: "comm:<group>:<type>" for each group kind and collective type,
// "p2p:<group>" for each group kind.
struct OpClassNames {
  std::array<std::array<std::string, enum_count<CollectiveType>()>, kGroupKindCount> comm;
  std::array<std::string, kGroupKindCount> p2p;
  OpClassNames() {
    for (std::size_t g = 0; g < comm.size(); ++g) {
      const std::string group(to_string(static_cast<GroupKind>(g)));
      p2p[g] = "p2p:" + group;
      for (std::size_t t = 0; t < comm[g].size(); ++t)
        comm[g][t] = "comm:" + group + ":" + std::string(to_string(static_cast<CollectiveType>(t)));
    }
  }
};

const OpClassNames& op_class_names() {
  static const OpClassNames names;
  return names;
}

}  // namespace

std::string_view op_class_name(const Op& op) {
  switch (op.kind) {
    case OpKind::gemm:
      return "gemm";
    case OpKind::attention:
      return "attention";
    case OpKind::conv2d:
      return "conv";
    case OpKind::elementwise:
    case OpKind::norm:
    case OpKind::softmax_xent:
    case OpKind::embedding:
    case OpKind::cast:
      return "memory";
    case OpKind::optimizer:
      return "optimizer";
    case OpKind::collective: {
      const auto& c = std::get<CollectiveParams>(op.params);
      return op_class_names().comm[static_cast<std::size_t>(c.group)][static_cast<std::size_t>(c.type)];
    }
    case OpKind::send:
    case OpKind::recv:
      return op_class_names().p2p[static_cast<std::size_t>(std::get<P2PParams>(op.params).group)];
    case OpKind::io:
      return "io";
    case OpKind::delay:
      return "delay";
  }
  return "other";
}

std::string op_class(const Op& op) {
  return std::string(op_class_name(op));
}

ProgramInfo describe_program(const Plan& plan, std::int32_t program) {
  const Program& prog = plan.programs.at(static_cast<std::size_t>(program));
  ProgramInfo info;
  info.program = prog.id;
  info.name = prog.name;
  for (const auto& s : prog.streams) info.streams.push_back(s.name);
  info.ops.reserve(prog.ops.size());
  for (const auto& op : prog.ops) {
    OpInfo oi;
    oi.op = op.id;
    oi.name = op.name;
    oi.kind = op.kind;
    oi.op_class = op_class_name(op);
    oi.phase = op.tags.phase;
    oi.stream = op.stream;
    oi.layer = op.tags.layer;
    oi.microbatch = op.tags.microbatch;
    oi.flops = op_flops(op);
    oi.bytes = op_bytes(plan, op);
    info.ops.push_back(std::move(oi));
  }
  return info;
}

namespace {

std::string where(const Program& prog, const Op& op) {
  return "program " + std::to_string(prog.id) + " (" + prog.name + ") op " + std::to_string(op.id) + " (" + op.name +
         ")";
}

}  // namespace

// Like require(), but the message is only built when the check fails: validate() runs over every
// op of large plans and must not allocate on the success path.
template <typename Message>
[[noreturn, gnu::cold, gnu::noinline]] void fail(const Message& message) {
  throw InternalError("internal error: " + std::string(message()));
}
template <typename Message>
inline void check(bool condition, const Message& message) {
  if (!condition) [[unlikely]]
    fail(message);
}

void validate(const Plan& plan) {
  check(plan.world_size >= 1, [&] { return "world_size must be >= 1"; });
  check(static_cast<std::int32_t>(plan.program_of_rank.size()) == plan.world_size, [&] {
    return "program_of_rank has " + std::to_string(plan.program_of_rank.size()) + " entries for " +
           std::to_string(plan.world_size) + " ranks";
  });
  for (std::size_t i = 0; i < plan.groups.size(); ++i)
    check(plan.groups[i].id == static_cast<std::int32_t>(i),
          [&] { return "groups[" + std::to_string(i) + "].id mismatch"; });
  const RankGroups rank_groups(plan);  // checks group membership
  for (std::int32_t p : plan.program_of_rank)
    check(p >= 0 && p < static_cast<std::int32_t>(plan.programs.size()),
          [&] { return "program_of_rank names a missing program"; });

  const auto n_tensors = static_cast<std::int32_t>(plan.tensors.size());
  for (std::int32_t i = 0; i < n_tensors; ++i) {
    const Tensor& t = plan.tensors[static_cast<std::size_t>(i)];
    check(t.id == i, [&] { return "tensors[" + std::to_string(i) + "].id mismatch"; });
    check(t.bytes >= 0, [&] { return "tensor " + t.name + " has negative size"; });
    if (!t.shape.empty())
      check(t.elements() * dtype_bytes(t.dtype) == t.bytes, [&] {
        return "tensor " + t.name + ": shape and dtype give " + std::to_string(t.elements() * dtype_bytes(t.dtype)) +
               " bytes, not " + std::to_string(t.bytes);
      });
    if (t.view_of != kNone) {
      check(t.view_of >= 0 && t.view_of < n_tensors,
            [&] { return "tensor " + t.name + " is a view of a missing tensor"; });
      const Tensor& base = plan.tensors[static_cast<std::size_t>(t.view_of)];
      check(base.view_of == kNone, [&] { return "tensor " + t.name + " is a view of a view"; });
      check((t.offset_bytes >= 0 && t.offset_bytes + t.bytes <= base.bytes) || t.shard_group.has_value(),
            [&] { return "view " + t.name + " runs past its base " + base.name; });
    }
  }

  // live[t] == the index of the program being checked while tensor t is allocated in it; one array
  // for every program, so checking allocates once and stays linear in the plan's size.
  std::vector<std::int32_t> live(plan.tensors.size(), -1);
  for (std::size_t pi = 0; pi < plan.programs.size(); ++pi) {
    const Program& prog = plan.programs[pi];
    const auto here = static_cast<std::int32_t>(pi);
    check(prog.id == static_cast<std::int32_t>(pi), [&] { return "programs[" + std::to_string(pi) + "].id mismatch"; });
    check(!prog.streams.empty(), [&] { return "program " + prog.name + " has no streams"; });
    for (TensorId t : prog.persistent) {
      check(t >= 0 && t < n_tensors, [&] { return "program " + prog.name + " keeps a missing tensor"; });
      check(plan.tensors[static_cast<std::size_t>(t)].view_of == kNone, [&] { return "persistent tensor is a view"; });
      live[static_cast<std::size_t>(t)] = here;
    }
    const auto n_ops = static_cast<std::int32_t>(prog.ops.size());
    for (std::int32_t oi = 0; oi < n_ops; ++oi) {
      const Op& op = prog.ops[static_cast<std::size_t>(oi)];
      check(op.id == oi, [&] { return where(prog, op) + ": id mismatch"; });
      const OpKind held = kind_of(op.params);
      const bool kind_ok = held == op.kind || (held == OpKind::send && op.kind == OpKind::recv);
      check(kind_ok, [&] {
        return where(prog, op) + ": kind " + std::string(to_string(op.kind)) + " but params of " +
               std::string(to_string(held));
      });
      check(op.stream >= 0 && op.stream < static_cast<StreamId>(prog.streams.size()),
            [&] { return where(prog, op) + ": missing stream"; });
      for (OpId d : op.deps)
        check(d >= 0 && d < oi, [&] { return where(prog, op) + ": dependency on a later or missing op"; });
      for (TensorId t : op.allocs) {
        check(t >= 0 && t < n_tensors, [&] { return where(prog, op) + ": allocates a missing tensor"; });
        check(plan.tensors[static_cast<std::size_t>(t)].view_of == kNone,
              [&] { return where(prog, op) + ": allocates a view"; });
        check(live[static_cast<std::size_t>(t)] != here, [&] {
          return where(prog, op) + ": allocates " + plan.tensors[static_cast<std::size_t>(t)].name + " twice";
        });
        live[static_cast<std::size_t>(t)] = here;
      }
      auto check_live = [&](TensorId t, const char* what) {
        check(t >= 0 && t < n_tensors, [&] { return where(prog, op) + ": " + what + " a missing tensor"; });
        const Tensor& tt = plan.tensors[static_cast<std::size_t>(t)];
        const TensorId storage = tt.view_of == kNone ? t : tt.view_of;
        check(live[static_cast<std::size_t>(storage)] == here,
              [&] { return where(prog, op) + ": " + what + " " + tt.name + " which is not allocated"; });
      };
      for (TensorId t : op.inputs) check_live(t, "reads");
      for (TensorId t : op.outputs) check_live(t, "writes");
      for (TensorId t : op.frees) {
        check_live(t, "frees");
        check(plan.tensors[static_cast<std::size_t>(t)].view_of == kNone,
              [&] { return where(prog, op) + ": frees a view"; });
        live[static_cast<std::size_t>(t)] = -1;
      }
    }
  }
}

}  // namespace clustersim::plan
