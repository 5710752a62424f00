// OpContext: typed, size-checked access to an op's tensors with fp32 staging of narrow floats.
#include "op_context.hpp"

#include <cstring>

#include "clustersim/executor/cpu/cast.hpp"
#include "clustersim/plan/error.hpp"

namespace clustersim::executor::detail {

OpContext::OpContext(RankServices& r, const plan::Op& o) : rank(r), op(o) {}

const plan::Tensor& OpContext::input(std::size_t i) const {
  return rank.plan().tensors.at(static_cast<std::size_t>(op.inputs.at(i)));
}

const plan::Tensor& OpContext::output(std::size_t i) const {
  return rank.plan().tensors.at(static_cast<std::size_t>(op.outputs.at(i)));
}

std::int64_t OpContext::elements(const plan::Tensor& t) {
  return t.bytes / dtype_bytes(t.dtype);
}

std::string OpContext::where() const {
  return "rank " + std::to_string(rank.rank()) + ", program " + std::to_string(rank.program()) + " op " +
         std::to_string(op.id) + " (" + op.name + ")";
}

void OpContext::fail(const std::string& slot, const std::string& value, const std::string& allowed) const {
  throw InputError(where() + " " + slot, value, allowed);
}

std::string OpContext::slot(const char* list, std::size_t i) const {
  const auto& ids = std::string(list) == "inputs" ? op.inputs : op.outputs;
  const auto& t = rank.plan().tensors.at(static_cast<std::size_t>(ids.at(i)));
  return std::string(list) + "[" + std::to_string(i) + "] (" + t.name + ")";
}

void OpContext::expect(std::size_t n_in, std::size_t n_out, const char* lists) const {
  if (op.inputs.size() < n_in || op.outputs.size() < n_out)
    fail("tensor lists",
         std::to_string(op.inputs.size()) + " inputs and " + std::to_string(op.outputs.size()) + " outputs", lists);
}

void OpContext::check_size(const plan::Tensor& t, std::int64_t n, DType dtype, const std::string& s) const {
  if (n < 0 || n * dtype_bytes(dtype) > t.bytes)
    fail(s, std::to_string(t.bytes) + " bytes",
         "at least " + std::to_string(n) + " " + std::string(to_string(dtype)) + " elements for this op");
}

float* OpContext::f32(const plan::Tensor& t, std::int64_t n, bool write, const std::string& s, bool stat) {
  if (stat && t.dtype != DType::fp32)
    fail(s, "\"" + std::string(to_string(t.dtype)) + "\"", "\"fp32\" (statistics are fp32)");
  if (!cpu::is_float_dtype(t.dtype))
    fail(s, "\"" + std::string(to_string(t.dtype)) + "\"",
         "a float dtype: \"fp32\", \"tf32\", \"bf16\", \"fp16\", \"fp8_e4m3\" or \"fp8_e5m2\"");
  check_size(t, n, t.dtype, s);
  if (t.dtype == DType::fp32 || t.dtype == DType::tf32) return reinterpret_cast<float*>(rank.storage(t.id));
  for (auto& st : staged_)
    if (st.id == t.id) {
      st.written |= write;
      return st.values.data();
    }
  Staged st;
  st.id = t.id;
  st.values.resize(static_cast<std::size_t>(elements(t)));
  cpu::cast_to_float(st.values.data(), rank.storage(t.id), t.dtype, elements(t));
  st.written = write;
  staged_.push_back(std::move(st));
  return staged_.back().values.data();
}

template <typename T>
T* OpContext::typed(const plan::Tensor& t, std::int64_t n, DType dtype, const std::string& s) {
  if (t.dtype != dtype)
    fail(s, "\"" + std::string(to_string(t.dtype)) + "\"", "\"" + std::string(to_string(dtype)) + "\"");
  check_size(t, n, dtype, s);
  return reinterpret_cast<T*>(rank.storage(t.id));
}

const float* OpContext::in_f32(std::size_t i, std::int64_t n) {
  return f32(input(i), n, false, slot("inputs", i), false);
}
float* OpContext::out_f32(std::size_t i, std::int64_t n) {
  return f32(output(i), n, true, slot("outputs", i), false);
}
const float* OpContext::in_stat(std::size_t i, std::int64_t n) {
  return f32(input(i), n, false, slot("inputs", i), true);
}
float* OpContext::out_stat(std::size_t i, std::int64_t n) {
  return f32(output(i), n, true, slot("outputs", i), true);
}
const std::int32_t* OpContext::in_i32(std::size_t i, std::int64_t n) {
  return typed<std::int32_t>(input(i), n, DType::int32, slot("inputs", i));
}
std::int32_t* OpContext::out_i32(std::size_t i, std::int64_t n) {
  return typed<std::int32_t>(output(i), n, DType::int32, slot("outputs", i));
}
const std::uint8_t* OpContext::in_u8(std::size_t i, std::int64_t n) {
  return typed<std::uint8_t>(input(i), n, DType::uint8, slot("inputs", i));
}
std::uint8_t* OpContext::out_u8(std::size_t i, std::int64_t n) {
  return typed<std::uint8_t>(output(i), n, DType::uint8, slot("outputs", i));
}
std::byte* OpContext::in_raw(std::size_t i) {
  return rank.storage(op.inputs.at(i));
}
std::byte* OpContext::out_raw(std::size_t i) {
  return rank.storage(op.outputs.at(i));
}

void OpContext::commit() {
  for (auto& st : staged_) {
    if (!st.written) continue;
    const plan::Tensor& t = rank.plan().tensors.at(static_cast<std::size_t>(st.id));
    cpu::cast_from_float(rank.storage(t.id), t.dtype, st.values.data(), elements(t));
  }
  staged_.clear();
}

KernelFn KernelRegistry::find(const plan::Op& op, const std::string& where) const {
  if (op.kind == OpKind::elementwise) {
    const auto& name = std::get<plan::ElementwiseParams>(op.params).name;
    auto it = elementwise.find(name);
    if (it == elementwise.end()) {
      std::string names;
      for (const auto& [n, fn] : elementwise) names += (names.empty() ? "" : ", ") + ("\"" + n + "\"");
      throw InputError(where + " params.name", "\"" + name + "\"", "an elementwise kernel name: one of " + names);
    }
    return it->second;
  }
  const KernelFn fn = by_kind.at(static_cast<std::size_t>(op.kind));
  require(fn != nullptr, "no CPU kernel for op kind " + std::string(to_string(op.kind)));
  return fn;
}

std::vector<std::string> KernelRegistry::elementwise_names() const {
  std::vector<std::string> out;
  for (const auto& [n, fn] : elementwise) out.push_back(n);
  return out;
}

}  // namespace clustersim::executor::detail
