// JSON (de)serialisation of Plan, Hardware and Trace (schema "clustersim.trace/1").
#include "clustersim/plan/json.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <type_traits>

#include "clustersim/plan/json_reader.hpp"

namespace clustersim::plan {

using nlohmann::json;

std::string describe_value(const json& value, std::size_t max_chars) {
  std::string s;
  if (value.is_null()) return "null";
  if (value.is_number_float()) {
    std::ostringstream os;
    os.precision(12);
    os << value.get<double>();
    s = os.str();
  } else {
    s = value.dump();
  }
  if (s.size() > max_chars) s = s.substr(0, max_chars) + "...";
  return s;
}

json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path, "a file that cannot be opened", "a readable JSON file");
  try {
    return json::parse(in, nullptr, true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    throw InputError(path, "invalid JSON (" + std::string(e.what()) + ")", "a valid JSON document");
  }
}

void write_json_file(const std::string& path, const json& j, int indent) {
  const std::filesystem::path target(path);
  if (target.has_parent_path()) std::filesystem::create_directories(target.parent_path());
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    if (!out) throw Error("cannot write " + tmp);
    out << j.dump(indent) << '\n';
    if (!out) throw Error("cannot write " + tmp);
  }
  std::filesystem::rename(tmp, target);
}

// --- Plan ---------------------------------------------------------------------------------------

namespace {

template <typename E>
json names(const std::vector<E>& v) {
  json a = json::array();
  for (auto e : v) a.push_back(std::string(to_string(e)));
  return a;
}

}  // namespace

json to_json(const OpParams& params) {
  return std::visit(
      [](const auto& p) -> json {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, GemmParams>) {
          return {{"m", p.m}, {"n", p.n}, {"k", p.k}, {"batch", p.batch}, {"dtype", to_string(p.dtype)},
                  {"trans_a", p.trans_a}, {"trans_b", p.trans_b}, {"accumulate", p.accumulate}, {"bias", p.bias}};
        } else if constexpr (std::is_same_v<T, AttentionParams>) {
          return {{"batch", p.batch}, {"heads", p.heads}, {"kv_heads", p.kv_heads}, {"seq_q", p.seq_q},
                  {"seq_kv", p.seq_kv}, {"head_dim", p.head_dim}, {"causal", p.causal}, {"flash", p.flash},
                  {"dropout", p.dropout}, {"direction", to_string(p.direction)}, {"dtype", to_string(p.dtype)},
                  {"seq_shards", p.seq_shards}};
        } else if constexpr (std::is_same_v<T, Conv2dParams>) {
          static constexpr const char* passes[] = {"forward", "backward_data", "backward_filter"};
          return {{"batch", p.batch}, {"in_channels", p.in_channels}, {"out_channels", p.out_channels},
                  {"height", p.height}, {"width", p.width}, {"kernel_h", p.kernel_h}, {"kernel_w", p.kernel_w},
                  {"stride", p.stride}, {"padding", p.padding}, {"pass", passes[static_cast<int>(p.pass)]},
                  {"dtype", to_string(p.dtype)}};
        } else if constexpr (std::is_same_v<T, ElementwiseParams>) {
          return {{"name", p.name}, {"elements", p.elements}, {"bytes_read", p.bytes_read},
                  {"bytes_written", p.bytes_written}, {"flops", p.flops}, {"scalar", p.scalar},
                  {"dtype", to_string(p.dtype)}, {"dims", p.dims}};
        } else if constexpr (std::is_same_v<T, NormParams>) {
          return {{"type", to_string(p.type)}, {"rows", p.rows}, {"cols", p.cols},
                  {"direction", to_string(p.direction)}, {"accumulate_dx", p.accumulate_dx}, {"eps", p.eps},
                  {"dtype", to_string(p.dtype)}};
        } else if constexpr (std::is_same_v<T, SoftmaxXentParams>) {
          return {{"rows", p.rows}, {"vocab", p.vocab}, {"direction", to_string(p.direction)},
                  {"grad_scale", p.grad_scale}, {"dtype", to_string(p.dtype)}};
        } else if constexpr (std::is_same_v<T, EmbeddingParams>) {
          return {{"vocab", p.vocab}, {"dim", p.dim}, {"batch", p.batch}, {"seq", p.seq},
                  {"learned_positions", p.learned_positions}, {"vocab_parallel", p.vocab_parallel},
                  {"seq_shards", p.seq_shards},
                  {"direction", to_string(p.direction)},
                  {"dtype", to_string(p.dtype)}};
        } else if constexpr (std::is_same_v<T, OptimizerParams>) {
          return {{"kind", to_string(p.kind)}, {"params", p.params}, {"lr", p.lr}, {"beta1", p.beta1},
                  {"beta2", p.beta2}, {"eps", p.eps}, {"weight_decay", p.weight_decay}, {"momentum", p.momentum},
                  {"grad_scale", p.grad_scale}, {"found_inf", p.found_inf}};
        } else if constexpr (std::is_same_v<T, CastParams>) {
          return {{"from", to_string(p.from)}, {"to", to_string(p.to)}, {"elements", p.elements}};
        } else if constexpr (std::is_same_v<T, CollectiveParams>) {
          return {{"type", to_string(p.type)}, {"group", to_string(p.group)}, {"bytes", p.bytes},
                  {"dtype", to_string(p.dtype)}, {"accumulate", p.accumulate}, {"root", p.root},
                  {"reduce", p.reduce == ReduceOp::sum ? "sum" : "max"}};
        } else if constexpr (std::is_same_v<T, P2PParams>) {
          return {{"group", to_string(p.group)}, {"peer_offset", p.peer_offset}, {"bytes", p.bytes}, {"tag", p.tag}};
        } else if constexpr (std::is_same_v<T, IoParams>) {
          return {{"bytes", p.bytes}, {"medium", p.medium}, {"content", p.content}, {"seq_shards", p.seq_shards}};
        } else {
          return {{"ns", p.ns}, {"reason", p.reason}};
        }
      },
      params);
}

namespace {

template <typename E>
E enum_at(ObjectReader& r, std::string_view key) {
  return r.enumeration<E>(key);
}

OpParams params_from_json(OpKind kind, const json& j, const std::string& path) {
  ObjectReader r(j, path);
  constexpr std::int64_t big = std::numeric_limits<std::int64_t>::max();
  constexpr double inf = std::numeric_limits<double>::infinity();
  OpParams out;
  switch (kind) {
    case OpKind::gemm: {
      GemmParams p;
      p.m = r.integer("m", 0, big), p.n = r.integer("n", 0, big), p.k = r.integer("k", 0, big);
      p.batch = r.integer("batch", 1, big);
      p.dtype = enum_at<DType>(r, "dtype");
      p.trans_a = r.boolean("trans_a"), p.trans_b = r.boolean("trans_b");
      p.accumulate = r.boolean("accumulate"), p.bias = r.boolean("bias");
      out = p;
      break;
    }
    case OpKind::attention: {
      AttentionParams p;
      p.batch = r.integer("batch", 0, big), p.heads = r.integer("heads", 0, big);
      p.kv_heads = r.integer("kv_heads", 0, big), p.seq_q = r.integer("seq_q", 0, big);
      p.seq_kv = r.integer("seq_kv", 0, big), p.head_dim = r.integer("head_dim", 0, big);
      p.causal = r.boolean("causal"), p.flash = r.boolean("flash"), p.dropout = r.number("dropout", 0, 1);
      p.direction = enum_at<Direction>(r, "direction"), p.dtype = enum_at<DType>(r, "dtype");
      p.seq_shards = static_cast<std::int32_t>(r.integer("seq_shards", 1, 1 << 20));
      out = p;
      break;
    }
    case OpKind::conv2d: {
      Conv2dParams p;
      p.batch = r.integer("batch", 0, big), p.in_channels = r.integer("in_channels", 0, big);
      p.out_channels = r.integer("out_channels", 0, big), p.height = r.integer("height", 0, big);
      p.width = r.integer("width", 0, big), p.kernel_h = r.integer("kernel_h", 1, big);
      p.kernel_w = r.integer("kernel_w", 1, big), p.stride = r.integer("stride", 1, big);
      p.padding = r.integer("padding", 0, big);
      const std::string pass = r.choice("pass", {"forward", "backward_data", "backward_filter"});
      p.pass = pass == "forward" ? ConvPass::forward
               : pass == "backward_data" ? ConvPass::backward_data
                                         : ConvPass::backward_filter;
      p.dtype = enum_at<DType>(r, "dtype");
      out = p;
      break;
    }
    case OpKind::elementwise: {
      ElementwiseParams p;
      p.name = r.string("name"), p.elements = r.integer("elements", 0, big);
      p.bytes_read = r.integer("bytes_read", 0, big), p.bytes_written = r.integer("bytes_written", 0, big);
      p.flops = r.number("flops", 0, inf), p.scalar = r.number("scalar", -inf, inf);
      p.dtype = enum_at<DType>(r, "dtype");
      const json& dims = r.at("dims");
      if (!dims.is_array()) throw InputError(path + ".dims", describe_value(dims), "an array of integers");
      for (std::size_t d = 0; d < dims.size(); ++d)
        p.dims.push_back(as_integer(dims[d], path + ".dims[" + std::to_string(d) + "]", 0, big));
      out = p;
      break;
    }
    case OpKind::norm: {
      NormParams p;
      p.type = enum_at<NormType>(r, "type"), p.rows = r.integer("rows", 0, big), p.cols = r.integer("cols", 0, big);
      p.direction = enum_at<Direction>(r, "direction"), p.accumulate_dx = r.boolean("accumulate_dx");
      p.eps = r.number("eps", 0, 1), p.dtype = enum_at<DType>(r, "dtype");
      out = p;
      break;
    }
    case OpKind::softmax_xent: {
      SoftmaxXentParams p;
      p.rows = r.integer("rows", 0, big), p.vocab = r.integer("vocab", 0, big);
      p.direction = enum_at<Direction>(r, "direction"), p.grad_scale = r.number("grad_scale", -inf, inf);
      p.dtype = enum_at<DType>(r, "dtype");
      out = p;
      break;
    }
    case OpKind::embedding: {
      EmbeddingParams p;
      p.vocab = r.integer("vocab", 0, big), p.dim = r.integer("dim", 0, big), p.batch = r.integer("batch", 0, big);
      p.seq = r.integer("seq", 0, big), p.learned_positions = r.boolean("learned_positions");
      p.vocab_parallel = r.boolean("vocab_parallel");
      p.seq_shards = static_cast<std::int32_t>(r.integer("seq_shards", 1, 1 << 20));
      p.direction = enum_at<Direction>(r, "direction"), p.dtype = enum_at<DType>(r, "dtype");
      out = p;
      break;
    }
    case OpKind::optimizer: {
      OptimizerParams p;
      p.kind = enum_at<OptimizerKind>(r, "kind"), p.params = r.integer("params", 0, big);
      p.lr = r.number("lr", 0, inf), p.beta1 = r.number("beta1", 0, 1), p.beta2 = r.number("beta2", 0, 1);
      p.eps = r.number("eps", 0, 1), p.weight_decay = r.number("weight_decay", 0, inf);
      p.momentum = r.number("momentum", 0, 1), p.grad_scale = r.number("grad_scale", 0, inf);
      p.found_inf = r.boolean("found_inf");
      out = p;
      break;
    }
    case OpKind::cast: {
      CastParams p;
      p.from = enum_at<DType>(r, "from"), p.to = enum_at<DType>(r, "to"), p.elements = r.integer("elements", 0, big);
      out = p;
      break;
    }
    case OpKind::collective: {
      CollectiveParams p;
      p.type = enum_at<CollectiveType>(r, "type"), p.group = enum_at<GroupKind>(r, "group");
      p.bytes = r.integer("bytes", 0, big), p.dtype = enum_at<DType>(r, "dtype");
      p.accumulate = r.boolean("accumulate"), p.root = static_cast<std::int32_t>(r.integer("root", 0, 1 << 30));
      p.reduce = r.choice("reduce", {"sum", "max"}) == "sum" ? ReduceOp::sum : ReduceOp::max;
      out = p;
      break;
    }
    case OpKind::send:
    case OpKind::recv: {
      P2PParams p;
      p.group = enum_at<GroupKind>(r, "group");
      p.peer_offset = static_cast<std::int32_t>(r.integer("peer_offset", -(1 << 30), 1 << 30));
      p.bytes = r.integer("bytes", 0, big);
      p.tag = static_cast<std::int32_t>(r.integer("tag", 0, 1 << 30));
      out = p;
      break;
    }
    case OpKind::io: {
      IoParams p;
      p.bytes = r.integer("bytes", 0, big), p.medium = r.string("medium");
      p.content = r.string("content");
      p.seq_shards = static_cast<std::int32_t>(r.integer("seq_shards", 1, 1 << 20));
      out = p;
      break;
    }
    case OpKind::delay: {
      DelayParams p;
      p.ns = r.integer("ns", 0, big), p.reason = r.string("reason");
      out = p;
      break;
    }
  }
  r.finish();
  return out;
}

std::vector<std::int32_t> int_list(const json& j, const std::string& path) {
  if (!j.is_array()) throw InputError(path, describe_value(j), "an array of integers");
  std::vector<std::int32_t> out;
  out.reserve(j.size());
  for (std::size_t i = 0; i < j.size(); ++i)
    out.push_back(static_cast<std::int32_t>(
        as_integer(j[i], path + "[" + std::to_string(i) + "]", std::numeric_limits<std::int32_t>::min(),
                   std::numeric_limits<std::int32_t>::max())));
  return out;
}

}  // namespace

json to_json(const Plan& plan) {
  json j;
  j["world_size"] = plan.world_size;
  json meta;
  const auto& m = plan.meta;
  meta = {{"scenario", m.scenario}, {"model", m.model}, {"global_batch", m.global_batch},
          {"micro_batch", m.micro_batch}, {"num_microbatches", m.num_microbatches}, {"seq_len", m.seq_len},
          {"tokens_per_step", m.tokens_per_step}, {"parameters", m.parameters},
          {"model_flops_per_step", m.model_flops_per_step}, {"hardware_flops_per_step", m.hardware_flops_per_step},
          {"dp", m.dp}, {"tp", m.tp}, {"pp", m.pp}, {"cp", m.cp}, {"ep", m.ep},
          {"precision", to_string(m.precision)}, {"zero_stage", m.zero_stage}, {"seed", m.seed},
          {"dynamic_loss_scale", m.dynamic_loss_scale}, {"loss_scale_init", m.loss_scale_init},
          {"loss_scale_window", m.loss_scale_window}, {"loss_scale_growth", m.loss_scale_growth},
          {"loss_scale_backoff", m.loss_scale_backoff}};
  j["meta"] = meta;
  json groups = json::array();
  for (const auto& g : plan.groups) groups.push_back({{"id", g.id}, {"kind", to_string(g.kind)}, {"ranks", g.ranks}});
  j["groups"] = std::move(groups);
  json tensors = json::array();
  for (const auto& t : plan.tensors) {
    json jt = {{"id", t.id}, {"name", t.name}, {"dtype", to_string(t.dtype)}, {"shape", t.shape},
               {"bytes", t.bytes}, {"role", to_string(t.role)}, {"persistent", t.persistent}};
    if (t.init.kind != TensorInit::Kind::none) {
      static constexpr const char* kinds[] = {"none", "zeros", "ones", "normal", "copy"};
      json ji = {{"kind", kinds[static_cast<int>(t.init.kind)]}, {"std", t.init.std}, {"seed_key", t.init.seed_key}};
      if (t.init.kind == TensorInit::Kind::copy) ji["source"] = t.init.source;
      if (!t.init.full_shape.empty()) ji["full_shape"] = t.init.full_shape;
      if (t.init.shard_dim >= 0) {
        ji["shard_dim"] = t.init.shard_dim;
        ji["shard_group"] = to_string(t.init.shard_group);
      }
      jt["init"] = std::move(ji);
    }
    if (t.view_of != kNone) {
      jt["view_of"] = t.view_of;
      jt["offset_bytes"] = t.offset_bytes;
      if (t.shard_group) jt["shard_group"] = to_string(*t.shard_group);
    }
    tensors.push_back(std::move(jt));
  }
  j["tensors"] = std::move(tensors);
  json programs = json::array();
  for (const auto& p : plan.programs) {
    json jp = {{"id", p.id}, {"name", p.name}, {"persistent", p.persistent}};
    json streams = json::array();
    for (const auto& s : p.streams) streams.push_back({{"id", s.id}, {"name", s.name}, {"kind", to_string(s.kind)}});
    jp["streams"] = std::move(streams);
    json ops = json::array();
    for (const auto& op : p.ops) {
      json jo = {{"id", op.id}, {"name", op.name}, {"kind", to_string(op.kind)}, {"stream", op.stream},
                 {"params", to_json(op.params)}};
      if (!op.inputs.empty()) jo["inputs"] = op.inputs;
      if (!op.outputs.empty()) jo["outputs"] = op.outputs;
      if (!op.allocs.empty()) jo["allocs"] = op.allocs;
      if (!op.frees.empty()) jo["frees"] = op.frees;
      if (!op.deps.empty()) jo["deps"] = op.deps;
      json tags = {{"phase", to_string(op.tags.phase)}};
      if (op.tags.layer >= 0) tags["layer"] = op.tags.layer;
      if (op.tags.microbatch >= 0) tags["microbatch"] = op.tags.microbatch;
      if (op.tags.stage >= 0) tags["stage"] = op.tags.stage;
      if (op.tags.chunk >= 0) tags["chunk"] = op.tags.chunk;
      if (op.tags.round >= 0) tags["round"] = op.tags.round;
      if (op.tags.client >= 0) tags["client"] = op.tags.client;
      jo["tags"] = std::move(tags);
      ops.push_back(std::move(jo));
    }
    jp["ops"] = std::move(ops);
    programs.push_back(std::move(jp));
  }
  j["programs"] = std::move(programs);
  j["program_of_rank"] = plan.program_of_rank;
  return j;
}

Plan plan_from_json(const json& j) {
  constexpr std::int64_t big = std::numeric_limits<std::int64_t>::max();
  constexpr std::int64_t i32 = std::numeric_limits<std::int32_t>::max();
  Plan plan;
  ObjectReader r(j, "");
  plan.world_size = static_cast<std::int32_t>(r.integer("world_size", 1, i32));
  {
    ObjectReader m(r.at("meta"), "meta");
    auto& pm = plan.meta;
    pm.scenario = m.string("scenario"), pm.model = m.string("model");
    pm.global_batch = m.integer("global_batch", 0, big), pm.micro_batch = m.integer("micro_batch", 0, big);
    pm.num_microbatches = m.integer("num_microbatches", 0, big), pm.seq_len = m.integer("seq_len", 0, big);
    pm.tokens_per_step = m.integer("tokens_per_step", 0, big), pm.parameters = m.integer("parameters", 0, big);
    pm.model_flops_per_step = m.number("model_flops_per_step", 0, 1e300);
    pm.hardware_flops_per_step = m.number("hardware_flops_per_step", 0, 1e300);
    pm.dp = static_cast<std::int32_t>(m.integer("dp", 1, i32)), pm.tp = static_cast<std::int32_t>(m.integer("tp", 1, i32));
    pm.pp = static_cast<std::int32_t>(m.integer("pp", 1, i32)), pm.cp = static_cast<std::int32_t>(m.integer("cp", 1, i32));
    pm.ep = static_cast<std::int32_t>(m.integer("ep", 1, i32));
    pm.precision = m.enumeration<Precision>("precision");
    pm.zero_stage = static_cast<std::int32_t>(m.integer("zero_stage", 0, 3));
    pm.seed = m.integer("seed", std::numeric_limits<std::int64_t>::min(), big);
    pm.dynamic_loss_scale = m.boolean("dynamic_loss_scale");
    pm.loss_scale_init = m.number("loss_scale_init", 0, 1e300);
    pm.loss_scale_window = m.integer("loss_scale_window", 1, big);
    pm.loss_scale_growth = m.number("loss_scale_growth", 1, 1e300);
    pm.loss_scale_backoff = m.number("loss_scale_backoff", 0, 1);
    m.finish();
  }
  const json& groups = r.at("groups");
  if (!groups.is_array()) throw InputError("groups", describe_value(groups), "an array");
  for (std::size_t i = 0; i < groups.size(); ++i) {
    const std::string path = "groups[" + std::to_string(i) + "]";
    ObjectReader g(groups[i], path);
    Group out;
    out.id = static_cast<std::int32_t>(g.integer("id", 0, i32));
    out.kind = g.enumeration<GroupKind>("kind");
    out.ranks = int_list(g.at("ranks"), path + ".ranks");
    g.finish();
    plan.groups.push_back(std::move(out));
  }
  const json& tensors = r.at("tensors");
  if (!tensors.is_array()) throw InputError("tensors", describe_value(tensors), "an array");
  plan.tensors.reserve(tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const std::string path = "tensors[" + std::to_string(i) + "]";
    ObjectReader t(tensors[i], path);
    Tensor out;
    out.id = static_cast<std::int32_t>(t.integer("id", 0, i32));
    out.name = t.string("name");
    out.dtype = t.enumeration<DType>("dtype");
    const json& shape = t.at("shape");
    if (!shape.is_array()) throw InputError(path + ".shape", describe_value(shape), "an array of integers");
    for (std::size_t d = 0; d < shape.size(); ++d)
      out.shape.push_back(as_integer(shape[d], path + ".shape[" + std::to_string(d) + "]", 0, big));
    out.bytes = t.integer("bytes", 0, big);
    out.role = t.enumeration<TensorRole>("role");
    out.persistent = t.boolean("persistent");
    out.view_of = static_cast<std::int32_t>(t.integer_or("view_of", kNone, kNone, i32));
    out.offset_bytes = t.integer_or("offset_bytes", 0, 0, big);
    if (t.has("shard_group")) out.shard_group = t.enumeration<GroupKind>("shard_group");
    if (const json* ji = t.find("init")) {
      ObjectReader ir(*ji, path + ".init");
      const std::string kind = ir.choice("kind", {"none", "zeros", "ones", "normal", "copy"});
      out.init.kind = kind == "zeros"    ? TensorInit::Kind::zeros
                      : kind == "ones"   ? TensorInit::Kind::ones
                      : kind == "normal" ? TensorInit::Kind::normal
                      : kind == "copy"   ? TensorInit::Kind::copy
                                         : TensorInit::Kind::none;
      out.init.source = static_cast<std::int32_t>(ir.integer_or("source", -1, -1, i32));
      out.init.std = ir.number("std", 0, 1e9);
      out.init.seed_key = ir.integer("seed_key", std::numeric_limits<std::int64_t>::min(), big);
      if (const json* fs = ir.find("full_shape"))
        for (std::size_t d = 0; d < fs->size(); ++d)
          out.init.full_shape.push_back(as_integer((*fs)[d], path + ".init.full_shape[" + std::to_string(d) + "]", 0, big));
      out.init.shard_dim = static_cast<std::int32_t>(ir.integer_or("shard_dim", -1, -1, 16));
      out.init.shard_group = ir.enumeration_or<GroupKind>("shard_group", GroupKind::tp);
      ir.finish();
    }
    t.finish();
    plan.tensors.push_back(std::move(out));
  }
  const json& programs = r.at("programs");
  if (!programs.is_array()) throw InputError("programs", describe_value(programs), "an array");
  for (std::size_t i = 0; i < programs.size(); ++i) {
    const std::string path = "programs[" + std::to_string(i) + "]";
    ObjectReader p(programs[i], path);
    Program prog;
    prog.id = static_cast<std::int32_t>(p.integer("id", 0, i32));
    prog.name = p.string("name");
    prog.persistent = int_list(p.at("persistent"), path + ".persistent");
    const json& streams = p.at("streams");
    if (!streams.is_array()) throw InputError(path + ".streams", describe_value(streams), "an array");
    for (std::size_t s = 0; s < streams.size(); ++s) {
      ObjectReader sr(streams[s], path + ".streams[" + std::to_string(s) + "]");
      Stream st;
      st.id = static_cast<StreamId>(sr.integer("id", 0, 32767));
      st.name = sr.string("name");
      st.kind = sr.enumeration<StreamKind>("kind");
      sr.finish();
      prog.streams.push_back(std::move(st));
    }
    const json& ops = p.at("ops");
    if (!ops.is_array()) throw InputError(path + ".ops", describe_value(ops), "an array");
    prog.ops.reserve(ops.size());
    for (std::size_t o = 0; o < ops.size(); ++o) {
      const std::string opath = path + ".ops[" + std::to_string(o) + "]";
      ObjectReader orr(ops[o], opath);
      Op op;
      op.id = static_cast<std::int32_t>(orr.integer("id", 0, i32));
      op.name = orr.string("name");
      op.kind = orr.enumeration<OpKind>("kind");
      op.stream = static_cast<StreamId>(orr.integer("stream", 0, 32767));
      op.params = params_from_json(op.kind, orr.at("params"), opath + ".params");
      if (const json* v = orr.find("inputs")) op.inputs = int_list(*v, opath + ".inputs");
      if (const json* v = orr.find("outputs")) op.outputs = int_list(*v, opath + ".outputs");
      if (const json* v = orr.find("allocs")) op.allocs = int_list(*v, opath + ".allocs");
      if (const json* v = orr.find("frees")) op.frees = int_list(*v, opath + ".frees");
      if (const json* v = orr.find("deps")) op.deps = int_list(*v, opath + ".deps");
      ObjectReader tg(orr.at("tags"), opath + ".tags");
      op.tags.phase = tg.enumeration<Phase>("phase");
      op.tags.layer = static_cast<std::int16_t>(tg.integer_or("layer", -1, -1, 32767));
      op.tags.microbatch = static_cast<std::int32_t>(tg.integer_or("microbatch", -1, -1, i32));
      op.tags.stage = static_cast<std::int16_t>(tg.integer_or("stage", -1, -1, 32767));
      op.tags.chunk = static_cast<std::int16_t>(tg.integer_or("chunk", -1, -1, 32767));
      op.tags.round = static_cast<std::int32_t>(tg.integer_or("round", -1, -1, i32));
      op.tags.client = static_cast<std::int32_t>(tg.integer_or("client", -1, -1, i32));
      tg.finish();
      orr.finish();
      prog.ops.push_back(std::move(op));
    }
    p.finish();
    plan.programs.push_back(std::move(prog));
  }
  plan.program_of_rank = int_list(r.at("program_of_rank"), "program_of_rank");
  r.finish();
  return plan;
}

// --- Hardware -----------------------------------------------------------------------------------

json to_json(const GpuSpec& g) {
  json peaks = json::object();
  for (const auto& [d, v] : g.peak_tflops) peaks[std::string(to_string(d))] = v;
  json eff = json::object();
  for (const auto& [k, c] : g.efficiency) eff[k] = {{"max", c.max}, {"half", c.half}};
  return {{"name", g.name}, {"memory_gib", g.memory_gib}, {"memory_bandwidth_gbytes_s", g.memory_bandwidth_gbytes_s},
          {"peak_tflops", peaks}, {"sm_count", g.sm_count}, {"tdp_w", g.tdp_w},
          {"price_usd_per_hour", g.price_usd_per_hour}, {"efficiency", eff},
          {"usable_memory_fraction", g.usable_memory_fraction}, {"kernel_launch_ns", g.kernel_launch_ns}};
}

json to_json(const LinkSpec& l) {
  return {{"name", l.name}, {"bandwidth_gbps", l.bandwidth_gbps}, {"latency_us", l.latency_us},
          {"efficiency", l.efficiency}};
}

json to_json(const Hardware& h) {
  static constexpr const char* topologies[] = {"single-switch", "fat-tree", "rail-fat-tree"};
  json slow = json::array();
  for (const auto& s : h.slowdowns) slow.push_back({{"rank", s.rank}, {"compute_factor", s.compute_factor}});
  json deg = json::array();
  for (const auto& d : h.degradations) deg.push_back({{"where", d.where}, {"bandwidth_factor", d.bandwidth_factor}});
  return {{"name", h.name},
          {"gpu", to_json(h.gpu)},
          {"nodes", h.nodes},
          {"gpus_per_node", h.gpus_per_node},
          {"intra_node", to_json(h.intra_node)},
          {"inter_node",
           {{"link", to_json(h.inter_node.link)},
            {"nics_per_node", h.inter_node.nics_per_node},
            {"topology", topologies[static_cast<int>(h.inter_node.topology)]},
            {"nodes_per_leaf", h.inter_node.nodes_per_leaf},
            {"oversubscription", h.inter_node.oversubscription}}},
          {"host_link", to_json(h.host_link)},
          {"slowdowns", slow},
          {"degradations", deg}};
}

// --- Trace --------------------------------------------------------------------------------------

json to_json(const Summary& s) {
  json comm = json::array();
  for (const auto& c : s.comm)
    comm.push_back({{"group", to_string(c.group)}, {"type", c.type}, {"count", c.count}, {"bytes", c.bytes},
                    {"time_s", c.time_s}, {"exposed_s", c.exposed_s}});
  return {{"step_time_s", s.step_time_s},
          {"tokens_per_s", s.tokens_per_s},
          {"samples_per_s", s.samples_per_s},
          {"model_flops_per_step", s.model_flops_per_step},
          {"mfu", s.mfu},
          {"hfu", s.hfu},
          {"compute_time_s", s.compute_time_s},
          {"comm_time_s", s.comm_time_s},
          {"exposed_comm_s", s.exposed_comm_s},
          {"bubble_fraction", s.bubble_fraction},
          {"peak_memory_bytes", s.peak_memory_bytes},
          {"capacity_bytes", s.capacity_bytes},
          {"fits", s.fits},
          {"critical_rank", s.critical_rank},
          {"comm", comm},
          {"losses", s.losses},
          {"loss_scale", s.loss_scale},
          {"skipped_steps", s.skipped_steps},
          {"steps", s.steps},
          {"events", s.events},
          {"wall_time_s", s.wall_time_s}};
}

namespace {
json role_map(const std::map<TensorRole, std::int64_t>& m) {
  json j = json::object();
  for (const auto& [r, v] : m) j[std::string(to_string(r))] = v;
  return j;
}
}  // namespace

json to_json(const Trace& t) {
  json j;
  j["schema"] = t.schema;
  j["source"] = t.source == TraceSource::simulated ? "simulated" : "measured";
  j["scenario"] = t.scenario;
  j["hardware"] = t.hardware;
  j["backend"] = t.backend;
  j["ranks"] = t.ranks;
  j["program_of_rank"] = t.program_of_rank;
  json programs = json::array();
  for (const auto& p : t.programs) {
    json ops = json::array();
    for (const auto& o : p.ops)
      ops.push_back({{"op", o.op}, {"name", o.name}, {"kind", to_string(o.kind)}, {"class", o.op_class},
                     {"phase", to_string(o.phase)}, {"stream", o.stream}, {"layer", o.layer},
                     {"microbatch", o.microbatch}, {"flops", o.flops}, {"bytes", o.bytes}});
    programs.push_back({{"program", p.program}, {"name", p.name}, {"streams", p.streams}, {"ops", ops}});
  }
  j["programs"] = std::move(programs);
  json ops = json::array();
  for (const auto& o : t.ops)
    ops.push_back({{"rank", o.rank}, {"op", o.op}, {"stream", o.stream}, {"step", o.step}, {"start_ns", o.start_ns},
                   {"end_ns", o.end_ns}});
  j["ops"] = std::move(ops);
  json mem = json::array();
  for (const auto& m : t.memory) {
    json tl = json::array();
    for (const auto& s : m.timeline) tl.push_back({s.t_ns, s.bytes});
    mem.push_back({{"rank", m.rank}, {"peak_bytes", m.peak_bytes}, {"peak_time_ns", m.peak_time_ns},
                   {"by_role", role_map(m.at_peak)}, {"role_peak", role_map(m.role_peak)},
                   {"persistent_bytes", m.persistent_bytes}, {"capacity_bytes", m.capacity_bytes}, {"fits", m.fits},
                   {"measured_resident_bytes", m.measured_resident_bytes}, {"timeline", tl}});
  }
  j["memory"] = std::move(mem);
  json comm = json::array();
  for (const auto& c : t.comm)
    comm.push_back({{"rank", c.rank}, {"group", to_string(c.group)}, {"group_id", c.group_id}, {"type", c.type},
                    {"bytes", c.bytes}, {"step", c.step}, {"start_ns", c.start_ns}, {"end_ns", c.end_ns}});
  j["comm"] = std::move(comm);
  j["summary"] = to_json(t.summary);
  j["extra"] = t.extra;
  return j;
}

namespace {

std::map<TensorRole, std::int64_t> role_map_from(const json& j, const std::string& path) {
  std::map<TensorRole, std::int64_t> out;
  if (!j.is_object()) throw InputError(path, describe_value(j), "an object of role -> bytes");
  for (const auto& [k, v] : j.items())
    out[parse_enum<TensorRole>(k, path + "." + k)] = as_integer(v, path + "." + k, 0, std::numeric_limits<std::int64_t>::max());
  return out;
}

template <typename F>
void each(ObjectReader& r, std::string_view key, F&& f) {
  const json& a = r.at(key);
  const std::string path = r.child_path(key);
  if (!a.is_array()) throw InputError(path, describe_value(a), "an array");
  for (std::size_t i = 0; i < a.size(); ++i) f(a[i], path + "[" + std::to_string(i) + "]");
}

}  // namespace

Trace trace_from_json(const json& j) {
  constexpr std::int64_t big = std::numeric_limits<std::int64_t>::max();
  constexpr std::int64_t i32 = std::numeric_limits<std::int32_t>::max();
  constexpr double inf = std::numeric_limits<double>::infinity();
  Trace t;
  ObjectReader r(j, "");
  t.schema = r.string("schema");
  if (t.schema != kTraceSchema) throw InputError("schema", "\"" + t.schema + "\"", std::string("\"") + kTraceSchema + "\"");
  const std::string source = r.choice("source", {"simulated", "measured"});
  t.source = source == "simulated" ? TraceSource::simulated : TraceSource::measured;
  t.scenario = r.string("scenario");
  t.hardware = r.string("hardware");
  t.backend = r.string("backend");
  t.ranks = int_list(r.at("ranks"), "ranks");
  t.program_of_rank = int_list(r.at("program_of_rank"), "program_of_rank");
  each(r, "programs", [&](const json& jp, const std::string& path) {
    ObjectReader p(jp, path);
    ProgramInfo info;
    info.program = static_cast<std::int32_t>(p.integer("program", 0, i32));
    info.name = p.string("name");
    const json& streams = p.at("streams");
    if (!streams.is_array()) throw InputError(path + ".streams", describe_value(streams), "an array of names");
    for (std::size_t i = 0; i < streams.size(); ++i)
      info.streams.push_back(as_string(streams[i], path + ".streams[" + std::to_string(i) + "]"));
    each(p, "ops", [&](const json& jo, const std::string& opath) {
      ObjectReader o(jo, opath);
      OpInfo oi;
      oi.op = static_cast<std::int32_t>(o.integer("op", 0, i32));
      oi.name = o.string("name");
      oi.kind = o.enumeration<OpKind>("kind");
      oi.op_class = o.string("class");
      oi.phase = o.enumeration<Phase>("phase");
      oi.stream = static_cast<std::int16_t>(o.integer("stream", 0, 32767));
      oi.layer = static_cast<std::int16_t>(o.integer("layer", -1, 32767));
      oi.microbatch = static_cast<std::int32_t>(o.integer("microbatch", -1, i32));
      oi.flops = o.number("flops", 0, inf);
      oi.bytes = o.integer("bytes", 0, big);
      o.finish();
      info.ops.push_back(std::move(oi));
    });
    p.finish();
    t.programs.push_back(std::move(info));
  });
  each(r, "ops", [&](const json& jo, const std::string& path) {
    ObjectReader o(jo, path);
    OpSpan s;
    s.rank = static_cast<std::int32_t>(o.integer("rank", 0, i32));
    s.op = static_cast<std::int32_t>(o.integer("op", 0, i32));
    s.stream = static_cast<std::int16_t>(o.integer("stream", 0, 32767));
    s.step = static_cast<std::int32_t>(o.integer("step", 0, i32));
    s.start_ns = o.integer("start_ns", 0, big);
    s.end_ns = o.integer("end_ns", s.start_ns, big);
    o.finish();
    t.ops.push_back(s);
  });
  each(r, "memory", [&](const json& jm, const std::string& path) {
    ObjectReader m(jm, path);
    RankMemory rm;
    rm.rank = static_cast<std::int32_t>(m.integer("rank", 0, i32));
    rm.peak_bytes = m.integer("peak_bytes", 0, big);
    rm.peak_time_ns = m.integer("peak_time_ns", 0, big);
    rm.at_peak = role_map_from(m.at("by_role"), path + ".by_role");
    rm.role_peak = role_map_from(m.at("role_peak"), path + ".role_peak");
    rm.persistent_bytes = m.integer("persistent_bytes", 0, big);
    rm.capacity_bytes = m.integer("capacity_bytes", 0, big);
    rm.fits = m.boolean("fits");
    rm.measured_resident_bytes = m.integer_or("measured_resident_bytes", 0, 0, big);
    const json& tl = m.at("timeline");
    if (!tl.is_array()) throw InputError(path + ".timeline", describe_value(tl), "an array of [t_ns, bytes]");
    for (std::size_t i = 0; i < tl.size(); ++i) {
      const std::string p = path + ".timeline[" + std::to_string(i) + "]";
      if (!tl[i].is_array() || tl[i].size() != 2) throw InputError(p, describe_value(tl[i]), "[t_ns, bytes]");
      rm.timeline.push_back({as_integer(tl[i][0], p + "[0]", 0, big), as_integer(tl[i][1], p + "[1]", 0, big)});
    }
    m.finish();
    t.memory.push_back(std::move(rm));
  });
  each(r, "comm", [&](const json& jc, const std::string& path) {
    ObjectReader c(jc, path);
    CommSpan s;
    s.rank = static_cast<std::int32_t>(c.integer("rank", 0, i32));
    s.group = c.enumeration<GroupKind>("group");
    s.group_id = static_cast<std::int32_t>(c.integer("group_id", -1, i32));
    s.type = c.string("type");
    s.bytes = c.integer("bytes", 0, big);
    s.step = static_cast<std::int32_t>(c.integer("step", 0, i32));
    s.start_ns = c.integer("start_ns", 0, big);
    s.end_ns = c.integer("end_ns", s.start_ns, big);
    c.finish();
    t.comm.push_back(std::move(s));
  });
  {
    ObjectReader s(r.at("summary"), "summary");
    auto& u = t.summary;
    u.step_time_s = s.number("step_time_s", 0, inf);
    u.tokens_per_s = s.number("tokens_per_s", 0, inf);
    u.samples_per_s = s.number("samples_per_s", 0, inf);
    u.model_flops_per_step = s.number("model_flops_per_step", 0, inf);
    u.mfu = s.number("mfu", 0, inf);
    u.hfu = s.number("hfu", 0, inf);
    u.compute_time_s = s.number("compute_time_s", 0, inf);
    u.comm_time_s = s.number("comm_time_s", 0, inf);
    u.exposed_comm_s = s.number("exposed_comm_s", 0, inf);
    u.bubble_fraction = s.number("bubble_fraction", 0, 1);
    u.peak_memory_bytes = s.integer("peak_memory_bytes", 0, big);
    u.capacity_bytes = s.integer("capacity_bytes", 0, big);
    u.fits = s.boolean("fits");
    u.critical_rank = static_cast<std::int32_t>(s.integer("critical_rank", 0, i32));
    each(s, "comm", [&](const json& jc, const std::string& path) {
      ObjectReader c(jc, path);
      CommSummary cs;
      cs.group = c.enumeration<GroupKind>("group");
      cs.type = c.string("type");
      cs.count = c.integer("count", 0, big);
      cs.bytes = c.integer("bytes", 0, big);
      cs.time_s = c.number("time_s", 0, inf);
      cs.exposed_s = c.number("exposed_s", 0, inf);
      c.finish();
      u.comm.push_back(std::move(cs));
    });
    const json& losses = s.at("losses");
    if (!losses.is_array()) throw InputError("summary.losses", describe_value(losses), "an array of numbers");
    for (std::size_t i = 0; i < losses.size(); ++i)
      u.losses.push_back(as_number(losses[i], "summary.losses[" + std::to_string(i) + "]", -inf, inf));
    u.loss_scale = s.number("loss_scale", 0, inf);
    u.skipped_steps = s.integer("skipped_steps", 0, big);
    u.steps = s.integer("steps", 0, big);
    u.events = s.integer("events", 0, big);
    u.wall_time_s = s.number("wall_time_s", 0, inf);
    s.finish();
  }
  if (const json* e = r.find("extra")) t.extra = *e;
  r.finish();
  return t;
}

Trace read_trace_file(const std::string& path) {
  const json j = read_json_file(path);
  try {
    return trace_from_json(j);
  } catch (const InputError& e) {
    throw InputError(path + ": " + e.json_path(), e.value(), e.allowed());
  }
}

}  // namespace clustersim::plan
