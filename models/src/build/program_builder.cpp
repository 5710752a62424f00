// ProgramBuilder: tensors, views and ops of one program, with derived cross-stream dependencies.
#include "program_builder.hpp"

#include <algorithm>
#include <cmath>

namespace clustersim::models::build {

ProgramBuilder::ProgramBuilder(plan::Plan& plan, std::string name)
    : plan_(plan), first_tensor_(static_cast<TensorId>(plan.tensors.size())) {
  program_ = static_cast<std::int32_t>(plan_.programs.size());
  plan::Program prog;
  prog.id = program_;
  prog.name = std::move(name);
  plan_.programs.push_back(std::move(prog));
}

StreamId ProgramBuilder::stream(const std::string& name, StreamKind kind) {
  auto& streams = program().streams;
  for (const auto& s : streams)
    if (s.name == name) return s.id;
  require(static_cast<int>(streams.size()) < kMaxStreams, "too many streams in program " + program().name);
  plan::Stream s;
  s.id = static_cast<StreamId>(streams.size());
  s.name = name;
  s.kind = kind;
  streams.push_back(s);
  return s.id;
}

TensorId ProgramBuilder::tensor(std::string name, DType dtype, std::vector<std::int64_t> shape, TensorRole role,
                                bool persistent, plan::TensorInit init) {
  plan::Tensor t;
  t.id = static_cast<TensorId>(plan_.tensors.size());
  t.name = std::move(name);
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.bytes = t.elements() * dtype_bytes(dtype);
  t.role = role;
  t.persistent = persistent;
  t.init = std::move(init);
  plan_.tensors.push_back(std::move(t));
  if (persistent) program().persistent.push_back(plan_.tensors.back().id);
  return plan_.tensors.back().id;
}

TensorId ProgramBuilder::image(std::string name, DType dtype, std::vector<std::int64_t> shape, TensorRole role) {
  return tensor(std::move(name), dtype, std::move(shape), role, false);
}

TensorId ProgramBuilder::view(TensorId base, std::string name, DType dtype, std::vector<std::int64_t> shape,
                              std::int64_t offset_bytes, std::optional<GroupKind> shard, plan::TensorInit init) {
  const plan::Tensor& b = tensor_info(base);
  require(b.view_of == plan::kNone, "view of a view: " + name);
  const TensorRole role = b.role;
  plan::Tensor t;
  t.id = static_cast<TensorId>(plan_.tensors.size());
  t.name = std::move(name);
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.bytes = t.elements() * dtype_bytes(dtype);
  t.role = role;
  t.view_of = base;
  t.offset_bytes = offset_bytes;
  t.shard_group = shard;
  t.init = std::move(init);
  plan_.tensors.push_back(std::move(t));
  return plan_.tensors.back().id;
}

ProgramBuilder::Access& ProgramBuilder::access(TensorId t) {
  // Programs own disjoint, contiguous tensor ranges: index from this program's first tensor.
  const auto i = static_cast<std::size_t>(t - first_tensor_);
  if (i >= access_.size()) {
    require(t >= first_tensor_, "program " + program().name + " uses another program's tensor");
    Access fresh;
    std::fill(std::begin(fresh.readers), std::end(fresh.readers), -1);
    access_.resize(std::max(plan_.tensors.size() - static_cast<std::size_t>(first_tensor_), 2 * access_.size()) + 1024,
                   fresh);
  }
  return access_[i];
}

OpId ProgramBuilder::add(OpSpec spec) {
  plan::Program& prog = program();
  const OpId id = static_cast<OpId>(prog.ops.size());
  const StreamId s = spec.stream;
  const auto n_tensors = static_cast<TensorId>(plan_.tensors.size());
  for (const auto* list : {&spec.inputs, &spec.outputs, &spec.allocs, &spec.frees})
    for (TensorId t : *list)
      if (t < 0 || t >= n_tensors) require(false, "op " + spec.name + " names a missing tensor");
  require(s >= 0 && s < static_cast<StreamId>(prog.streams.size()), "op " + spec.name + " on a missing stream");

  // The latest op on each other stream this op must wait for (streams complete in order).
  OpId latest[kMaxStreams];
  std::fill(std::begin(latest), std::end(latest), -1);
  auto wait_for = [&](OpId op, StreamId stream) {
    if (op >= 0 && stream != s && op > latest[stream]) latest[stream] = op;
  };
  for (OpId d : spec.deps) wait_for(d, prog.ops[static_cast<std::size_t>(d)].stream);
  const auto n_streams = static_cast<StreamId>(prog.streams.size());
  for (TensorId t : spec.allocs) {
    // Re-allocation after a free: the previous lifetime is over (its free ordered every use).
    Access& a = access(t);
    a.last_writer = -1;
    std::fill(std::begin(a.readers), std::end(a.readers), -1);
  }
  for (TensorId t : spec.inputs) {
    const Access& a = access(t);
    wait_for(a.last_writer, a.writer_stream);
  }
  auto wait_for_all_uses = [&](TensorId t) {
    const Access& a = access(t);
    wait_for(a.last_writer, a.writer_stream);
    for (StreamId k = 0; k < n_streams; ++k) wait_for(a.readers[k], k);
  };
  for (TensorId t : spec.outputs) wait_for_all_uses(t);
  for (TensorId t : spec.frees) wait_for_all_uses(t);
  std::vector<OpId> deps = std::move(spec.deps);
  deps.clear();
  for (StreamId k = 0; k < n_streams; ++k)
    if (latest[k] >= 0) deps.push_back(latest[k]);
  std::sort(deps.begin(), deps.end());

  for (TensorId t : spec.inputs) access(t).readers[s] = id;
  for (TensorId t : spec.outputs) {
    Access& a = access(t);
    a.last_writer = id;
    a.writer_stream = s;
    std::fill(std::begin(a.readers), std::end(a.readers), -1);
  }

  plan::Op op;
  op.id = id;
  op.name = std::move(spec.name);
  op.kind = spec.kind;
  op.stream = s;
  op.params = std::move(spec.params);
  op.inputs = std::move(spec.inputs);
  op.outputs = std::move(spec.outputs);
  op.allocs = std::move(spec.allocs);
  op.frees = std::move(spec.frees);
  op.deps = std::move(deps);
  op.tags = spec.tags;
  prog.ops.push_back(std::move(op));
  return id;
}

void ProgramBuilder::written_by(TensorId tensor, OpId op) {
  Access& a = access(tensor);
  a.last_writer = op;
  a.writer_stream = program().ops.at(static_cast<std::size_t>(op)).stream;
  std::fill(std::begin(a.readers), std::end(a.readers), -1);
}

void ProgramBuilder::free_at_last_op(TensorId tensor) {
  plan::Program& prog = program();
  require(!prog.ops.empty(), "free_at_last_op without an op");
  plan::Op& op = prog.ops.back();
  OpId latest[kMaxStreams];
  std::fill(std::begin(latest), std::end(latest), -1);
  auto wait_for = [&](OpId o, StreamId stream) {
    if (o >= 0 && o != op.id && stream != op.stream && o > latest[stream]) latest[stream] = o;
  };
  for (OpId d : op.deps) wait_for(d, prog.ops[static_cast<std::size_t>(d)].stream);
  const Access& a = access(tensor);
  wait_for(a.last_writer, a.writer_stream);
  const auto n_streams = static_cast<StreamId>(prog.streams.size());
  for (StreamId k = 0; k < n_streams; ++k) wait_for(a.readers[k], k);
  op.deps.clear();
  for (StreamId k = 0; k < n_streams; ++k)
    if (latest[k] >= 0) op.deps.push_back(latest[k]);
  std::sort(op.deps.begin(), op.deps.end());
  op.frees.push_back(tensor);
}

plan::ElementwiseParams elementwise(std::string name, std::int64_t elements, DType dtype, double reads_per_elem,
                                    double writes_per_elem, double flops_per_elem, double scalar) {
  plan::ElementwiseParams p;
  p.name = std::move(name);
  p.elements = elements;
  p.dtype = dtype;
  const double bytes = static_cast<double>(elements) * static_cast<double>(dtype_bytes(dtype));
  p.bytes_read = static_cast<std::int64_t>(std::llround(bytes * reads_per_elem));
  p.bytes_written = static_cast<std::int64_t>(std::llround(bytes * writes_per_elem));
  p.flops = static_cast<double>(elements) * flops_per_elem;
  p.scalar = scalar;
  return p;
}

}  // namespace clustersim::models::build
