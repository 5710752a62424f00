// JSON (de)serialisation of the calibration profile ("clustersim.profile/1") and the shared naming of
// memory-bound ops in it. Written by `clustersim calibrate`, read by the engine's calibrated model.
#include "clustersim/plan/profile.hpp"

#include <cmath>
#include <limits>

#include "clustersim/plan/json.hpp"
#include "clustersim/plan/json_reader.hpp"

namespace clustersim::plan {

using nlohmann::json;

std::string calibration_key(const Op& op) {
  switch (op.kind) {
    case OpKind::elementwise:
      return "elementwise:" + std::get<ElementwiseParams>(op.params).name;
    case OpKind::norm: {
      const auto& p = std::get<NormParams>(op.params);
      return "norm:" + std::string(to_string(p.type)) + ":" + std::string(to_string(p.direction));
    }
    case OpKind::softmax_xent:
      return "softmax_xent:" + std::string(to_string(std::get<SoftmaxXentParams>(op.params).direction));
    case OpKind::embedding:
      return "embedding:" + std::string(to_string(std::get<EmbeddingParams>(op.params).direction));
    case OpKind::optimizer:
      return "optimizer:" + std::string(to_string(std::get<OptimizerParams>(op.params).kind));
    case OpKind::cast:
      return "cast";
    default:
      return "";
  }
}

std::vector<std::string> calibration_key_chain(const Op& op) {
  std::string key = calibration_key(op);
  std::vector<std::string> chain;
  if (key.empty()) return chain;
  while (true) {
    chain.push_back(key);
    const auto colon = key.rfind(':');
    if (colon == std::string::npos) break;
    key.resize(colon);
  }
  chain.emplace_back("memory");
  return chain;
}

DType memory_op_dtype(const Plan& plan, const Op& op) {
  auto is_float = [](DType d) { return d != DType::int32 && d != DType::int64 && d != DType::uint8; };
  for (const auto* list : {&op.inputs, &op.outputs})
    for (TensorId t : *list)
      if (t >= 0 && static_cast<std::size_t>(t) < plan.tensors.size()) {
        const DType d = plan.tensors[static_cast<std::size_t>(t)].dtype;
        if (is_float(d)) return d;
      }
  return DType::fp32;
}

std::vector<std::string> calibration_key_chain(const Plan& plan, const Op& op) {
  std::vector<std::string> chain = calibration_key_chain(op);
  if (chain.empty()) return chain;
  const DType d = memory_op_dtype(plan, op);
  if (d == DType::fp32) return chain;
  chain.insert(chain.begin(), chain.front() + "@" + std::string(to_string(d)));
  return chain;
}

std::string op_signature(const Plan& plan, const Op& op) {
  switch (op.kind) {
    case OpKind::gemm:
    case OpKind::attention:
    case OpKind::conv2d:
    case OpKind::elementwise:
    case OpKind::norm:
    case OpKind::softmax_xent:
    case OpKind::embedding:
    case OpKind::optimizer:
    case OpKind::cast:
      break;
    default:
      return "";
  }
  std::string s(to_string(op.kind));
  s += to_json(op.params).dump();
  auto tensors = [&](const char* label, const std::vector<TensorId>& ids) {
    s += label;
    for (TensorId id : ids) {
      const Tensor& t = plan.tensors.at(static_cast<std::size_t>(id));
      s += std::string(to_string(t.dtype)) + "[";
      for (std::size_t d = 0; d < t.shape.size(); ++d) s += (d ? "," : "") + std::to_string(t.shape[d]);
      if (t.shape.empty()) s += std::to_string(t.bytes) + "B";
      s += "]";
      if (&ids == &op.outputs)
        for (std::size_t i = 0; i < op.inputs.size(); ++i)
          if (op.inputs[i] == id) s += "=in" + std::to_string(i);
      s += ";";
    }
  };
  tensors("|in:", op.inputs);
  tensors("|out:", op.outputs);
  return s;
}

namespace {

constexpr const char* kPlacementNames[] = {"intra", "inter"};

json byte_time_list(const std::vector<ByteTimeSample>& samples) {
  json a = json::array();
  for (const auto& s : samples) a.push_back({{"bytes", s.bytes}, {"time_ns", s.time_ns}});
  return a;
}

const json& array_at(ObjectReader& r, std::string_view key) {
  const json& a = r.at(key);
  if (!a.is_array()) throw InputError(r.child_path(key), describe_value(a), "an array");
  return a;
}

std::vector<ByteTimeSample> byte_time_from(const json& a, const std::string& path) {
  if (!a.is_array()) throw InputError(path, describe_value(a), "an array of {bytes, time_ns}");
  constexpr std::int64_t big = std::numeric_limits<std::int64_t>::max();
  std::vector<ByteTimeSample> out;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ObjectReader s(a[i], path + "[" + std::to_string(i) + "]");
    ByteTimeSample b;
    b.bytes = s.integer("bytes", 1, big);
    b.time_ns = s.number("time_ns", 1e-9, 1e300);
    s.finish();
    out.push_back(b);
  }
  return out;
}

json idle_delay_list(const std::vector<IdleDelaySample>& samples) {
  json a = json::array();
  for (const auto& s : samples) a.push_back({{"idle_ns", s.idle_ns}, {"delay_ns", s.delay_ns}});
  return a;
}

std::vector<IdleDelaySample> idle_delay_from(const json& a, const std::string& path) {
  if (!a.is_array()) throw InputError(path, describe_value(a), "an array of {idle_ns, delay_ns}");
  std::vector<IdleDelaySample> out;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ObjectReader s(a[i], path + "[" + std::to_string(i) + "]");
    IdleDelaySample d;
    d.idle_ns = s.number("idle_ns", 1e-9, 1e15);
    d.delay_ns = s.number("delay_ns", 0.0, 1e12);
    s.finish();
    out.push_back(d);
  }
  check_idle_delay(out, path);
  return out;
}

}  // namespace

json probe_to_json(const MachineProbe& p) {
  return {{"bytes", p.bytes}, {"all_reduce_ns", p.all_reduce_ns}, {"gemm_ns", p.gemm_ns}};
}

MachineProbe probe_from_json(const json& j, const std::string& path) {
  ObjectReader r(j, path);
  MachineProbe p;
  p.bytes = r.integer("bytes", 0, std::numeric_limits<std::int64_t>::max());
  p.all_reduce_ns = r.number("all_reduce_ns", 0.0, 1e12);
  p.gemm_ns = r.number("gemm_ns", 0.0, 1e12);
  r.finish();
  return p;
}

json to_json(const CalibrationProfile& p) {
  json gemm = json::array();
  for (const auto& g : p.gemm)
    gemm.push_back({{"dtype", to_string(g.dtype)}, {"m", g.m}, {"n", g.n}, {"k", g.k}, {"time_ns", g.time_ns}});
  json attention = json::array();
  for (const auto& a : p.attention)
    attention.push_back({{"dtype", to_string(a.dtype)},
                         {"batch", a.batch},
                         {"heads", a.heads},
                         {"kv_heads", a.kv_heads},
                         {"seq", a.seq},
                         {"head_dim", a.head_dim},
                         {"causal", a.causal},
                         {"flash", a.flash},
                         {"direction", to_string(a.direction)},
                         {"time_ns", a.time_ns}});
  json memory = json::object();
  for (const auto& [key, samples] : p.memory) memory[key] = byte_time_list(samples);
  json collectives = json::array();
  for (const auto& c : p.collectives) {
    json sample = {{"type", to_string(c.type)},
                   {"ranks", c.ranks},
                   {"bytes", c.bytes},
                   {"time_ns", c.time_ns},
                   {"placement", kPlacementNames[static_cast<int>(c.placement)]},
                   {"dtype", to_string(c.dtype)}};
    if (!c.idle_delay.empty()) sample["idle_delay"] = idle_delay_list(c.idle_delay);
    collectives.push_back(std::move(sample));
  }
  const json idle_delay = idle_delay_list(p.overlap_comm_idle_delay);
  json ops = json::array();
  for (const auto& o : p.ops) ops.push_back({{"signature", o.signature}, {"example", o.example}, {"time_ns", o.time_ns}});
  json out = {{"schema", p.schema},
          {"backend", p.backend},
          {"device", p.device},
          {"created", p.created},
          {"gemm", gemm},
          {"attention", attention},
          {"memory", memory},
          {"collectives", collectives},
          {"p2p", byte_time_list(p.p2p)},
          {"ops", ops},
          {"rank_compute_factor", p.rank_compute_factor},
          {"rank_compute_factor_samples", p.rank_compute_factor_samples},
          {"host",
           {{"dispatch_ns", p.host.dispatch_ns}, {"wake_ns", p.host.wake_ns},
            {"poll_first_ns", p.host.poll.first_ns},
            {"poll_cap_ns", p.host.poll.cap_ns},
            {"poll_overshoot_ns", p.host.poll.overshoot_ns},
            {"alloc", byte_time_list(p.host.alloc)}}},
          {"overlap",
           {{"compute_slowdown", p.overlap_compute_slowdown},
            {"comm_busy_delay_ns", p.overlap_comm_busy_delay_ns},
            {"comm_idle_delay", idle_delay}}},
          {"kernel_overhead_ns", p.kernel_overhead_ns}};
  if (p.probe) out["probe"] = probe_to_json(*p.probe);
  return out;
}

CalibrationProfile profile_from_json(const json& j) {
  constexpr std::int64_t big = std::numeric_limits<std::int64_t>::max();
  CalibrationProfile p;
  ObjectReader r(j, "");
  p.schema = r.string("schema");
  if (p.schema != kProfileSchema)
    throw InputError("schema", "\"" + p.schema + "\"", std::string("\"") + kProfileSchema + "\"");
  p.backend = r.choice("backend", {"cpu", "cuda"});
  p.device = r.string("device");
  p.created = r.string_or("created", "");

  const json& gemm = array_at(r, "gemm");
  for (std::size_t i = 0; i < gemm.size(); ++i) {
    ObjectReader g(gemm[i], "gemm[" + std::to_string(i) + "]");
    GemmSample s;
    s.dtype = g.enumeration<DType>("dtype");
    s.m = g.integer("m", 1, big), s.n = g.integer("n", 1, big), s.k = g.integer("k", 1, big);
    s.time_ns = g.number("time_ns", 1e-9, 1e300);
    g.finish();
    p.gemm.push_back(s);
  }
  if (r.has("attention")) {
    const json& attention = array_at(r, "attention");
    for (std::size_t i = 0; i < attention.size(); ++i) {
      ObjectReader a(attention[i], "attention[" + std::to_string(i) + "]");
      AttentionSample s;
      s.dtype = a.enumeration<DType>("dtype");
      s.batch = a.integer("batch", 1, big), s.heads = a.integer("heads", 1, big);
      s.kv_heads = a.integer_or("kv_heads", s.heads, 1, big), s.seq = a.integer("seq", 1, big);
      s.head_dim = a.integer("head_dim", 1, big);
      s.causal = a.boolean("causal"), s.flash = a.boolean("flash");
      s.direction = a.enumeration<Direction>("direction");
      s.time_ns = a.number("time_ns", 1e-9, 1e300);
      a.finish();
      p.attention.push_back(s);
    }
  }
  {
    const json& memory = r.at("memory");
    if (!memory.is_object()) throw InputError("memory", describe_value(memory), "an object of op key -> samples");
    for (const auto& [key, samples] : memory.items()) {
      if (key.empty())
        throw InputError("memory", "\"\"", "non-empty op keys such as \"elementwise:gelu\" or \"memory\"");
      p.memory[key] = byte_time_from(samples, "memory." + key);
    }
  }
  if (r.has("collectives")) {
    const json& collectives = array_at(r, "collectives");
    for (std::size_t i = 0; i < collectives.size(); ++i) {
      ObjectReader c(collectives[i], "collectives[" + std::to_string(i) + "]");
      CollectiveSample s;
      s.type = c.enumeration<CollectiveType>("type");
      s.ranks = static_cast<std::int32_t>(c.integer("ranks", 1, std::numeric_limits<std::int32_t>::max()));
      s.bytes = c.integer("bytes", 1, big);
      s.time_ns = c.number("time_ns", 1e-9, 1e300);
      s.placement =
          c.choice_or("placement", "intra", {"intra", "inter"}) == "intra" ? Placement::intra : Placement::inter;
      if (c.has("dtype")) s.dtype = c.enumeration<DType>("dtype");
      if (const json* a = c.find("idle_delay"))
        s.idle_delay = idle_delay_from(*a, "collectives[" + std::to_string(i) + "].idle_delay");
      c.finish();
      p.collectives.push_back(s);
    }
  }
  if (const json* v = r.find("p2p")) p.p2p = byte_time_from(*v, "p2p");
  if (r.has("ops")) {
    const json& ops = array_at(r, "ops");
    for (std::size_t i = 0; i < ops.size(); ++i) {
      ObjectReader o(ops[i], "ops[" + std::to_string(i) + "]");
      OpSample s;
      s.signature = o.string("signature");
      if (s.signature.empty())
        throw InputError("ops[" + std::to_string(i) + "].signature", "\"\"", "an op signature (plan::op_signature)");
      s.example = o.string_or("example", "");
      s.time_ns = o.number("time_ns", 1e-9, 1e300);
      o.finish();
      p.ops.push_back(std::move(s));
    }
  }
  if (r.has("rank_compute_factor")) {
    const json& f = array_at(r, "rank_compute_factor");
    for (std::size_t i = 0; i < f.size(); ++i) {
      const std::string path = "rank_compute_factor[" + std::to_string(i) + "]";
      if (!f[i].is_number() || !(f[i].get<double>() > 0.0) || f[i].get<double>() > 1e3)
        throw InputError(path, describe_value(f[i]), "a factor > 0 (a rank's compute time over the mean)");
      p.rank_compute_factor.push_back(f[i].get<double>());
    }
  }
  if (r.has("rank_compute_factor_samples")) {
    const json& rows = array_at(r, "rank_compute_factor_samples");
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const std::string path = "rank_compute_factor_samples[" + std::to_string(i) + "]";
      if (!rows[i].is_array() || rows[i].empty())
        throw InputError(path, describe_value(rows[i]), "an array of per-rank factors");
      std::vector<double> row;
      for (std::size_t k = 0; k < rows[i].size(); ++k) {
        const json& f = rows[i][k];
        if (!f.is_number() || !(f.get<double>() > 0.0) || f.get<double>() > 1e3)
          throw InputError(path + "[" + std::to_string(k) + "]", describe_value(f), "a factor > 0");
        row.push_back(f.get<double>());
      }
      if (!p.rank_compute_factor_samples.empty() && row.size() != p.rank_compute_factor_samples.front().size())
        throw InputError(path, std::to_string(row.size()) + " factors",
                         std::to_string(p.rank_compute_factor_samples.front().size()) + ", as the first sample");
      p.rank_compute_factor_samples.push_back(std::move(row));
    }
  }
  if (const json* v = r.find("host")) {
    ObjectReader h(*v, "host");
    p.host.dispatch_ns = h.number_or("dispatch_ns", 0.0, 0.0, 1e12);
    p.host.wake_ns = h.number_or("wake_ns", 0.0, 0.0, 1e12);
    p.host.poll.first_ns = h.number_or("poll_first_ns", 0.0, 0.0, 1e12);
    p.host.poll.cap_ns = h.number_or("poll_cap_ns", 0.0, 0.0, 1e12);
    p.host.poll.overshoot_ns = h.number_or("poll_overshoot_ns", 0.0, 0.0, 1e12);
    check_poll_schedule(p.host.poll, {"host.poll_first_ns", "host.poll_cap_ns", "host.poll_overshoot_ns"});
    if (const json* a = h.find("alloc")) p.host.alloc = byte_time_from(*a, "host.alloc");
    h.finish();
  }
  if (const json* v = r.find("overlap")) {
    ObjectReader o(*v, "overlap");
    p.overlap_compute_slowdown = o.number_or("compute_slowdown", 1.0, 1.0, 100.0);
    p.overlap_comm_busy_delay_ns = o.number_or("comm_busy_delay_ns", 0.0, 0.0, 1e12);
    if (const json* a = o.find("comm_idle_delay")) p.overlap_comm_idle_delay = idle_delay_from(*a, "overlap.comm_idle_delay");
    o.finish();
  }
  p.kernel_overhead_ns = r.number_or("kernel_overhead_ns", 0.0, 0.0, 1e12);
  if (const json* v = r.find("probe")) p.probe = probe_from_json(*v, "probe");
  r.finish();
  return p;
}

void check_poll_schedule(const PollSchedule& poll, const PollSchedulePaths& paths) {
  if (!(poll.first_ns >= 0.0) || !std::isfinite(poll.first_ns))
    throw InputError(paths.first, describe_value(poll.first_ns), "a time >= 0 in ns");
  if (!std::isfinite(poll.cap_ns) || (poll.first_ns > 0.0) != (poll.cap_ns > 0.0) || poll.cap_ns < poll.first_ns)
    throw InputError(paths.cap, describe_value(poll.cap_ns),
                     "0 with " + paths.first + " 0, else at least " + paths.first + " (" +
                         describe_value(poll.first_ns) + ")");
  if (!(poll.overshoot_ns >= 0.0) || !std::isfinite(poll.overshoot_ns))
    throw InputError(paths.overshoot, describe_value(poll.overshoot_ns), "a time >= 0 in ns");
}

void check_idle_delay(const std::vector<IdleDelaySample>& samples, const std::string& path) {
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const std::string at = path + "[" + std::to_string(i) + "]";
    if (!(samples[i].idle_ns > 0.0) || !std::isfinite(samples[i].idle_ns) ||
        (i > 0 && !(samples[i].idle_ns > samples[i - 1].idle_ns)))
      throw InputError(at + ".idle_ns", describe_value(samples[i].idle_ns),
                       "a time > 0 in ns, larger than the sample before's");
    if (!(samples[i].delay_ns >= 0.0) || !std::isfinite(samples[i].delay_ns))
      throw InputError(at + ".delay_ns", describe_value(samples[i].delay_ns), "a time >= 0 in ns");
  }
}

double idle_delay_ns(const std::vector<IdleDelaySample>& samples, double idle_ns) {
  if (samples.empty() || !(idle_ns > 0.0)) return 0.0;
  double x0 = 0.0, y0 = 0.0;
  for (const auto& s : samples) {
    if (idle_ns <= s.idle_ns) return y0 + (s.delay_ns - y0) * (idle_ns - x0) / (s.idle_ns - x0);
    x0 = s.idle_ns, y0 = s.delay_ns;
  }
  return y0;
}

CalibrationProfile read_profile_file(const std::string& path) {
  const json j = read_json_file(path);
  try {
    return profile_from_json(j);
  } catch (const InputError& e) {
    throw InputError(path + ": " + e.json_path(), e.value(), e.allowed());
  }
}

}  // namespace clustersim::plan
