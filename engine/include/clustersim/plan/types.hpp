// Small vocabulary types of the Plan IR and the Trace schema: data types, roles, op kinds, phases,
// group kinds, collective types. Each enum has one name table, used for JSON, reports and errors, so
// a name is spelled the same everywhere. `parse_enum` throws InputError listing the valid names.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "clustersim/plan/error.hpp"

namespace clustersim {

// Element types. tf32 is stored as fp32 (4 bytes) but multiplies at the tf32 rate.
enum class DType : std::uint8_t { fp32, tf32, fp16, bf16, fp8_e4m3, fp8_e5m2, int32, int64, uint8 };

// Bytes per element of a stored tensor.
constexpr std::int64_t dtype_bytes(DType d) {
  switch (d) {
    case DType::fp32:
    case DType::tf32:
    case DType::int32:
      return 4;
    case DType::fp16:
    case DType::bf16:
      return 2;
    case DType::fp8_e4m3:
    case DType::fp8_e5m2:
    case DType::uint8:
      return 1;
    case DType::int64:
      return 8;
  }
  return 4;
}

// What a tensor is for; memory reports break the peak down by these.
enum class TensorRole : std::uint8_t {
  weight,           // parameters in compute precision
  master_weight,    // fp32 master copy under mixed precision
  grad,             // parameter gradients (accumulated across micro-batches)
  optimizer_state,  // Adam moments, SGD momentum
  activation,       // forward outputs kept (or transiently alive) for the backward pass
  activation_grad,  // gradients flowing backward through activations (transient)
  workspace,        // scratch of one op (attention scores, GEMM workspace, reductions)
  comm_buffer,      // staging for communication (gradient buckets, gathered parameters, p2p)
  input,            // token ids, labels, images read from the data pipeline
  teacher_weight,   // frozen teacher parameters (distillation)
  client_update,    // a federated client's model delta
};

// Communicator kinds. `emb` joins the first and last pipeline stage that both hold the (tied)
// embedding, to sum its gradients (Megatron's embedding group).
enum class GroupKind : std::uint8_t { world, dp, tp, pp, cp, ep, fl, emb };
inline constexpr int kGroupKindCount = 8;

enum class OpKind : std::uint8_t {
  gemm,
  attention,
  conv2d,
  elementwise,
  norm,
  softmax_xent,
  embedding,
  optimizer,
  cast,
  collective,
  send,
  recv,
  io,
  delay,
};

enum class Direction : std::uint8_t { forward, backward };

// Where in the training step an op belongs (matches NVTX range names in the executor).
enum class Phase : std::uint8_t { forward, backward, recompute, optimizer, communication, data, other };

enum class CollectiveType : std::uint8_t { all_reduce, all_gather, reduce_scatter, all_to_all, broadcast, reduce };

enum class StreamKind : std::uint8_t { compute, comm, copy };

enum class NormType : std::uint8_t { layernorm, rmsnorm, batchnorm };

enum class OptimizerKind : std::uint8_t { adamw, sgd };

enum class Precision : std::uint8_t { fp32, tf32, fp16, bf16, fp8 };

// The dtype whose peak rate a training precision's GEMMs run at (MFU's denominator): fp8 training
// runs its GEMMs on e4m3 operands.
constexpr DType compute_dtype(Precision p) {
  switch (p) {
    case Precision::fp32:
      return DType::fp32;
    case Precision::tf32:
      return DType::tf32;
    case Precision::fp16:
      return DType::fp16;
    case Precision::bf16:
      return DType::bf16;
    case Precision::fp8:
      return DType::fp8_e4m3;
  }
  return DType::fp32;
}

enum class Recompute : std::uint8_t { none, selective, full };

// --- name tables -------------------------------------------------------------------------------
template <typename E>
struct EnumNames;  // specialised below: static constexpr std::array<std::string_view, N> names

#define CLUSTERSIM_ENUM_NAMES(E, ...)                                    \
  template <>                                                            \
  struct EnumNames<E> {                                                  \
    static constexpr std::array names{__VA_ARGS__};                      \
    static constexpr std::string_view type_name = #E;                    \
  }

using namespace std::string_view_literals;
CLUSTERSIM_ENUM_NAMES(DType, "fp32"sv, "tf32"sv, "fp16"sv, "bf16"sv, "fp8_e4m3"sv, "fp8_e5m2"sv, "int32"sv, "int64"sv,
                      "uint8"sv);
CLUSTERSIM_ENUM_NAMES(TensorRole, "weight"sv, "master_weight"sv, "grad"sv, "optimizer_state"sv, "activation"sv,
                      "activation_grad"sv, "workspace"sv, "comm_buffer"sv, "input"sv, "teacher_weight"sv,
                      "client_update"sv);
CLUSTERSIM_ENUM_NAMES(GroupKind, "world"sv, "dp"sv, "tp"sv, "pp"sv, "cp"sv, "ep"sv, "fl"sv, "emb"sv);
CLUSTERSIM_ENUM_NAMES(OpKind, "gemm"sv, "attention"sv, "conv2d"sv, "elementwise"sv, "norm"sv, "softmax_xent"sv,
                      "embedding"sv, "optimizer"sv, "cast"sv, "collective"sv, "send"sv, "recv"sv, "io"sv, "delay"sv);
CLUSTERSIM_ENUM_NAMES(Direction, "forward"sv, "backward"sv);
CLUSTERSIM_ENUM_NAMES(Phase, "forward"sv, "backward"sv, "recompute"sv, "optimizer"sv, "communication"sv, "data"sv,
                      "other"sv);
CLUSTERSIM_ENUM_NAMES(CollectiveType, "all_reduce"sv, "all_gather"sv, "reduce_scatter"sv, "all_to_all"sv,
                      "broadcast"sv, "reduce"sv);
CLUSTERSIM_ENUM_NAMES(StreamKind, "compute"sv, "comm"sv, "copy"sv);
CLUSTERSIM_ENUM_NAMES(NormType, "layernorm"sv, "rmsnorm"sv, "batchnorm"sv);
CLUSTERSIM_ENUM_NAMES(OptimizerKind, "adamw"sv, "sgd"sv);
CLUSTERSIM_ENUM_NAMES(Precision, "fp32"sv, "tf32"sv, "fp16"sv, "bf16"sv, "fp8"sv);
CLUSTERSIM_ENUM_NAMES(Recompute, "none"sv, "selective"sv, "full"sv);

template <typename E>
constexpr std::string_view to_string(E value) {
  const auto i = static_cast<std::size_t>(value);
  return i < EnumNames<E>::names.size() ? EnumNames<E>::names[i] : std::string_view("?");
}

// "a, b or c": the allowed names of an enum, for error messages.
template <typename E>
std::string enum_choices() {
  std::string out;
  const auto& names = EnumNames<E>::names;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += (i + 1 == names.size()) ? " or " : ", ";
    out += '"';
    out += names[i];
    out += '"';
  }
  return out;
}

// Parses a name; throws InputError(json_path, text, allowed names) when it is not one of them.
template <typename E>
E parse_enum(std::string_view text, const std::string& json_path) {
  const auto& names = EnumNames<E>::names;
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == text) return static_cast<E>(i);
  throw InputError(json_path, "\"" + std::string(text) + "\"", "one of " + enum_choices<E>());
}

template <typename E>
constexpr std::size_t enum_count() {
  return EnumNames<E>::names.size();
}

}  // namespace clustersim
