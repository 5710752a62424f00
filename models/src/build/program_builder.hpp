// ProgramBuilder: appends tensors, views, streams and ops to one Program of a Plan, and derives the
// cross-stream dependencies the plan contract needs so that builders only state data flow:
//  * read after write: an op reading a tensor depends on its last writer on another stream;
//  * write after read/write: an op writing a tensor depends on the last writer and on the readers
//    since then, on other streams;
//  * frees: the op freeing a tensor depends on every still-unordered use of it on other streams.
// Tracking is per tensor id (a view and its base are tracked separately); builders add explicit
// deps where distinct views of one buffer interact (gradient buckets over parameter grads).
// Private to the models library.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "clustersim/plan/plan.hpp"

namespace clustersim::models::build {

using plan::OpId;
using plan::StreamId;
using plan::TensorId;

struct OpSpec {
  std::string name;
  OpKind kind = OpKind::delay;
  StreamId stream = 0;
  plan::OpParams params;
  std::vector<TensorId> inputs, outputs, allocs, frees;
  std::vector<OpId> deps;
  plan::OpTags tags;
};

class ProgramBuilder {
 public:
  // Appends a new program to `plan` (its id is the next index).
  ProgramBuilder(plan::Plan& plan, std::string name);

  std::int32_t program_id() const { return program_; }
  plan::Plan& plan() { return plan_; }

  // Finds or creates a stream by name.
  StreamId stream(const std::string& name, StreamKind kind);

  // A tensor of this program. Persistent tensors are allocated before the first op.
  TensorId tensor(std::string name, DType dtype, std::vector<std::int64_t> shape, TensorRole role,
                  bool persistent = false, plan::TensorInit init = {});
  // A tensor that no op allocates: an initialisation image (see TensorInit::Kind::copy).
  TensorId image(std::string name, DType dtype, std::vector<std::int64_t> shape, TensorRole role);
  // A view of `base` (never a view of a view). With `shard`, a group-indexed view.
  TensorId view(TensorId base, std::string name, DType dtype, std::vector<std::int64_t> shape,
                std::int64_t offset_bytes, std::optional<GroupKind> shard = std::nullopt, plan::TensorInit init = {});

  // Adds an op with derived dependencies; returns its id.
  OpId add(OpSpec spec);
  // Records that `op` wrote `tensor` (a view whose base `op` wrote): later readers of the view then
  // depend on `op`. Views are tracked by id, so a write through the base must be declared.
  void written_by(TensorId tensor, OpId op);
  // Makes `op` also free `tensor` at its end (adds the dependencies a free needs). `op` must be the
  // most recently added op.
  void free_at_last_op(TensorId tensor);

  const plan::Tensor& tensor_info(TensorId id) const { return plan_.tensors[static_cast<std::size_t>(id)]; }
  OpId last_op() const { return static_cast<OpId>(program().ops.size()) - 1; }
  plan::Program& program() { return plan_.programs[static_cast<std::size_t>(program_)]; }
  const plan::Program& program() const { return plan_.programs[static_cast<std::size_t>(program_)]; }

 private:
  static constexpr int kMaxStreams = 12;
  struct Access {
    OpId last_writer = -1;
    StreamId writer_stream = -1;
    OpId readers[kMaxStreams];  // latest reader per stream since the last write, -1 when none
  };

  Access& access(TensorId t);

  plan::Plan& plan_;
  std::int32_t program_;
  TensorId first_tensor_;
  std::vector<Access> access_;  // indexed by tensor id - first_tensor_
};

// Elementwise op helper: bytes and flops from element counts.
plan::ElementwiseParams elementwise(std::string name, std::int64_t elements, DType dtype, double reads_per_elem,
                                    double writes_per_elem, double flops_per_elem, double scalar = 0.0);

}  // namespace clustersim::models::build
