// ParameterSet: buffers, buckets, reductions and the optimizer step; see parameters.hpp.
#include "parameters.hpp"

#include <algorithm>
#include <numeric>

namespace clustersim::models::build {

namespace {

std::int64_t round_up(std::int64_t x, std::int64_t m) { return m <= 1 ? x : (x + m - 1) / m * m; }

plan::TensorInit copy_from(TensorId source) {
  plan::TensorInit init;
  init.kind = plan::TensorInit::Kind::copy;
  init.source = source;
  return init;
}

plan::TensorInit zeros() {
  plan::TensorInit init;
  init.kind = plan::TensorInit::Kind::zeros;
  return init;
}

}  // namespace

ParameterSet::ParameterSet(ProgramBuilder& b, ParamOptions options) : b_(b), opt_(std::move(options)) {
  if (opt_.dp <= 1) opt_.zero_stage = 0;
  compute_ = b_.stream("compute", StreamKind::compute);
}

std::int32_t ParameterSet::declare(ParamDecl decl) {
  require(!finalized_, "declare after finalize");
  Param p;
  p.elements = 1;
  for (auto d : decl.shape) p.elements *= d;
  p.decl = std::move(decl);
  params_.push_back(std::move(p));
  return static_cast<std::int32_t>(params_.size()) - 1;
}

std::int32_t ParameterSet::span(const std::vector<std::int32_t>& params, const std::string& name) {
  require(!finalized_, "span after finalize");
  Span s;
  s.params = params;
  s.name = name;
  spans_.push_back(std::move(s));
  return kSpanBase + static_cast<std::int32_t>(spans_.size()) - 1;
}

std::vector<std::int32_t> ParameterSet::handle_params(std::int32_t handle) const {
  if (handle >= kSpanBase) return spans_.at(static_cast<std::size_t>(handle - kSpanBase)).params;
  return {handle};
}

ParameterSet::Bucket& ParameterSet::bucket_of(std::int32_t handle) {
  const std::int32_t first = handle_params(handle).front();
  return buckets_.at(static_cast<std::size_t>(params_.at(static_cast<std::size_t>(first)).bucket));
}

std::string ParameterSet::bucket_name(const Bucket& bucket) const {
  const auto index = &bucket - buckets_.data();
  return (opt_.zero_stage == 3 ? "unit" : "bucket") + std::to_string(index);
}

void ParameterSet::layout_buckets() {
  // Order: region A (sharded or, with tp == 1, all params) in declaration order, then region B
  // (tp-replicated params) grouped by unit. ZeRO-3 keeps each unit contiguous: sharded then replicated.
  std::vector<std::int32_t> order;
  const bool split_replicated = opt_.tp > 1;
  if (opt_.zero_stage == 3) {
    std::vector<std::int32_t> units;
    for (const auto& p : params_)
      if (std::find(units.begin(), units.end(), p.decl.unit) == units.end()) units.push_back(p.decl.unit);
    for (std::int32_t u : units) {
      for (std::size_t i = 0; i < params_.size(); ++i)
        if (params_[i].decl.unit == u && !params_[i].decl.replicated) order.push_back(static_cast<std::int32_t>(i));
      for (std::size_t i = 0; i < params_.size(); ++i)
        if (params_[i].decl.unit == u && params_[i].decl.replicated) order.push_back(static_cast<std::int32_t>(i));
    }
  } else {
    for (std::size_t i = 0; i < params_.size(); ++i)
      if (!(split_replicated && params_[i].decl.replicated)) order.push_back(static_cast<std::int32_t>(i));
    if (split_replicated) {
      std::vector<std::int32_t> units;
      for (const auto& p : params_)
        if (p.decl.replicated && std::find(units.begin(), units.end(), p.decl.unit) == units.end())
          units.push_back(p.decl.unit);
      for (std::int32_t u : units)
        for (std::size_t i = 0; i < params_.size(); ++i)
          if (params_[i].decl.replicated && params_[i].decl.unit == u) order.push_back(static_cast<std::int32_t>(i));
    }
  }

  // A span's params stay together: a bucket never closes inside one.
  std::vector<bool> inside_span(params_.size(), false);
  for (const auto& s : spans_)
    for (std::size_t i = 1; i < s.params.size(); ++i) inside_span[static_cast<std::size_t>(s.params[i])] = true;
  const std::int64_t elem_bytes = dtype_bytes(opt_.param_dtype);
  const auto bucket_cap_elems = static_cast<std::int64_t>(opt_.bucket_bytes / static_cast<double>(elem_bytes));
  std::int64_t offset = 0;
  Bucket* current = nullptr;
  auto close = [&]() {
    if (current == nullptr) return;
    current->end = offset;
    current->padded = round_up(current->end - current->begin, std::max(1, opt_.dp) * 8);
    offset = current->begin + current->padded;
    current = nullptr;
  };
  for (std::int32_t index : order) {
    Param& p = params_[static_cast<std::size_t>(index)];
    const bool replicated_region = split_replicated && p.decl.replicated && opt_.zero_stage != 3;
    bool start_new = current == nullptr || current->unit != p.decl.unit || p.decl.embedding_shared ||
                     current->embedding;
    if (!start_new && opt_.zero_stage != 3 && !inside_span[static_cast<std::size_t>(index)]) {
      const bool current_replicated = current->rep_begin == current->begin && current->rep_end > current->begin;
      start_new = replicated_region != current_replicated ||
                  (!replicated_region && (offset - current->begin) >= bucket_cap_elems);
    }
    if (start_new) {
      close();
      buckets_.emplace_back();
      current = &buckets_.back();
      current->unit = p.decl.unit;
      current->begin = offset;
      current->rep_begin = current->rep_end = offset;
      current->embedding = p.decl.embedding_shared;
    }
    p.offset = offset;
    p.bucket = static_cast<std::int32_t>(buckets_.size()) - 1;
    if (p.decl.replicated && opt_.tp > 1) {
      if (current->rep_end == current->rep_begin) current->rep_begin = offset;
      current->rep_end = offset + p.elements;
    }
    current->expected_writes += p.decl.writes_per_microbatch;
    offset += p.elements;
  }
  close();
  flat_elements_ = offset;
  std::int64_t shard = 0;
  for (auto& bk : buckets_) {
    bk.shard_offset = shard;
    shard += bk.padded / std::max(1, opt_.dp);
  }
  shard_elements_ = shard;
  for (auto& s : spans_) {
    const Param& first = params_.at(static_cast<std::size_t>(s.params.front()));
    s.offset = first.offset;
    std::int64_t expect = first.offset;
    for (std::int32_t pi : s.params) {
      const Param& p = params_.at(static_cast<std::size_t>(pi));
      require(p.offset == expect && p.bucket == first.bucket, "span " + s.name + " is not contiguous in one bucket");
      expect += p.elements;
      s.elements += p.elements;
    }
  }
}

TensorId ParameterSet::view_in(TensorId base, std::int32_t handle, std::int64_t base_offset, DType dtype,
                               const std::string& tag) {
  std::int64_t offset = 0, elements = 0;
  std::vector<std::int64_t> shape;
  std::string name;
  if (handle >= kSpanBase) {
    const Span& s = spans_[static_cast<std::size_t>(handle - kSpanBase)];
    offset = s.offset, elements = s.elements, name = s.name;
    shape = {elements};
  } else {
    const Param& p = params_[static_cast<std::size_t>(handle)];
    offset = p.offset, elements = p.elements, name = p.decl.name;
    shape = p.decl.shape;
  }
  (void)elements;
  return b_.view(base, name + tag, dtype, shape, (offset - base_offset) * dtype_bytes(dtype));
}

void ParameterSet::create_buffers() {
  const DType pdt = opt_.param_dtype;
  const bool z3 = opt_.zero_stage == 3;
  const bool sharded = opt_.zero_stage >= 1;
  const std::string prefix = "s" + std::to_string(std::max<int>(0, opt_.stage)) + ".";
  const std::int32_t dp = std::max(1, opt_.dp);

  if (!z3) {
    weights_ = b_.tensor(prefix + "weights", pdt, {flat_elements_}, TensorRole::weight, true);
    for (auto& p : params_)
      p.weight_view = b_.view(weights_, p.decl.name, pdt, p.decl.shape, p.offset * dtype_bytes(pdt), std::nullopt,
                              p.decl.init);
  } else {
    // Init-only image of the full weights; shards copy their slice of it.
    weight_image_ = b_.image(prefix + "weights.init", pdt, {flat_elements_}, TensorRole::weight);
    for (auto& p : params_)
      b_.view(weight_image_, p.decl.name + ".init", pdt, p.decl.shape, p.offset * dtype_bytes(pdt), std::nullopt,
              p.decl.init);
  }
  if (opt_.fp8_weight_cache && !z3) {
    fp8_ = b_.tensor(prefix + "weights.fp8", DType::fp8_e4m3, {flat_elements_}, TensorRole::weight, true);
    for (auto& p : params_)
      p.fp8_view = b_.view(fp8_, p.decl.name + ".fp8", DType::fp8_e4m3, p.decl.shape, p.offset, std::nullopt,
                           copy_from(p.weight_view));
  }
  if (opt_.zero_stage <= 1) {
    grads_ = b_.tensor(prefix + "grads", pdt, {flat_elements_}, TensorRole::grad, true, zeros());
    for (auto& p : params_)
      p.grad_view = b_.view(grads_, p.decl.name + ".grad", pdt, p.decl.shape, p.offset * dtype_bytes(pdt));
  } else {
    grad_shards_ = b_.tensor(prefix + "grads.shard", pdt, {shard_elements_}, TensorRole::grad, true, zeros());
  }
  // Master weights and optimizer states: full (ZeRO-0) or this rank's shard of every bucket.
  const std::int64_t state_elements = sharded ? shard_elements_ : flat_elements_;
  if (opt_.master_weights) {
    master_ = b_.tensor(prefix + (sharded ? "master.shard" : "master"), DType::fp32, {state_elements},
                        TensorRole::master_weight, true);
    if (!sharded) {
      for (auto& p : params_)
        p.master_view = b_.view(master_, p.decl.name + ".master", DType::fp32, p.decl.shape, p.offset * 4,
                                std::nullopt, p.decl.init);
    } else {
      master_image_ = b_.image(prefix + "master.init", DType::fp32, {flat_elements_}, TensorRole::master_weight);
      for (auto& p : params_)
        b_.view(master_image_, p.decl.name + ".master.init", DType::fp32, p.decl.shape, p.offset * 4, std::nullopt,
                p.decl.init);
    }
  }
  const int states = opt_.optimizer == OptimizerKind::adamw ? 2 : 1;
  state1_ = b_.tensor(prefix + (opt_.optimizer == OptimizerKind::adamw ? "adam_m" : "momentum"), DType::fp32,
                      {state_elements}, TensorRole::optimizer_state, true, zeros());
  if (states == 2)
    state2_ = b_.tensor(prefix + "adam_v", DType::fp32, {state_elements}, TensorRole::optimizer_state, true, zeros());
  if (z3) {
    // Each rank keeps only its slice of every unit's parameters.
    TensorId wshards = b_.tensor(prefix + "weights.shard", pdt, {shard_elements_}, TensorRole::weight, true);
    weights_ = wshards;
  }

  for (auto& bk : buckets_) {
    const std::string name = prefix + bucket_name(bk);
    const std::int64_t shard = bk.padded / dp;
    auto shard_view = [&](TensorId base, DType dt, const std::string& suffix, plan::TensorInit init = {}) {
      return b_.view(base, name + suffix, dt, {shard}, bk.shard_offset * dtype_bytes(dt), std::nullopt, std::move(init));
    };
    if (!z3) bk.weight = b_.view(weights_, name + ".weights", pdt, {bk.padded}, bk.begin * dtype_bytes(pdt));
    if (opt_.zero_stage <= 1) bk.grad = b_.view(grads_, name + ".grads", pdt, {bk.padded}, bk.begin * dtype_bytes(pdt));
    if (fp8_ >= 0) bk.fp8 = b_.view(fp8_, name + ".fp8", DType::fp8_e4m3, {bk.padded}, bk.begin);
    switch (opt_.zero_stage) {
      case 0:
        bk.master = master_ >= 0 ? b_.view(master_, name + ".master", DType::fp32, {bk.padded}, bk.begin * 4) : bk.weight;
        bk.state1 = b_.view(state1_, name + ".state1", DType::fp32, {bk.padded}, bk.begin * 4);
        if (state2_ >= 0) bk.state2 = b_.view(state2_, name + ".state2", DType::fp32, {bk.padded}, bk.begin * 4);
        break;
      case 1:
      case 2: {
        bk.weight_shard = b_.view(weights_, name + ".weights.mine", pdt, {shard}, bk.begin * dtype_bytes(pdt), GroupKind::dp);
        bk.grad_shard = opt_.zero_stage == 1
                            ? b_.view(grads_, name + ".grads.mine", pdt, {shard}, bk.begin * dtype_bytes(pdt), GroupKind::dp)
                            : shard_view(grad_shards_, pdt, ".grads.mine");
        if (master_ >= 0) {
          const TensorId src = b_.view(master_image_, name + ".master.init.mine", DType::fp32, {shard}, bk.begin * 4,
                                       GroupKind::dp);
          bk.master = shard_view(master_, DType::fp32, ".master.mine", copy_from(src));
        } else {
          bk.master = bk.weight_shard;
        }
        bk.state1 = shard_view(state1_, DType::fp32, ".state1.mine");
        if (state2_ >= 0) bk.state2 = shard_view(state2_, DType::fp32, ".state2.mine");
        break;
      }
      case 3: {
        const TensorId wsrc = b_.view(weight_image_, name + ".weights.init.mine", pdt, {shard},
                                      bk.begin * dtype_bytes(pdt), GroupKind::dp);
        bk.weight_shard = shard_view(weights_, pdt, ".weights.mine", copy_from(wsrc));
        bk.grad_shard = shard_view(grad_shards_, pdt, ".grads.mine");
        if (master_ >= 0) {
          const TensorId src = b_.view(master_image_, name + ".master.init.mine", DType::fp32, {shard}, bk.begin * 4,
                                       GroupKind::dp);
          bk.master = shard_view(master_, DType::fp32, ".master.mine", copy_from(src));
        } else {
          bk.master = bk.weight_shard;
        }
        bk.state1 = shard_view(state1_, DType::fp32, ".state1.mine");
        if (state2_ >= 0) bk.state2 = shard_view(state2_, DType::fp32, ".state2.mine");
        break;
      }
      default:
        break;
    }
  }
  for (auto& s : spans_) {
    if (!z3) s.weight_view = b_.view(weights_, s.name, pdt, {s.elements}, s.offset * dtype_bytes(pdt));
    if (grads_ >= 0) s.grad_view = b_.view(grads_, s.name + ".grad", pdt, {s.elements}, s.offset * dtype_bytes(pdt));
    if (fp8_ >= 0) s.fp8_view = b_.view(fp8_, s.name + ".fp8", DType::fp8_e4m3, {s.elements}, s.offset);
  }
}

void ParameterSet::finalize() {
  require(!finalized_, "finalize twice");
  finalized_ = true;
  if (opt_.dp > 1) dp_stream_ = b_.stream("dp_comm", StreamKind::comm);
  if (opt_.tp > 1) tp_stream_ = b_.stream("tp_comm", StreamKind::comm);
  if (opt_.pp > 1) pp_stream_ = b_.stream("pp_comm", StreamKind::comm);
  layout_buckets();
  create_buffers();
  for (const auto& bk : buckets_)
    if (bk.embedding && opt_.pp > 1) emb_stream_ = b_.stream("emb_comm", StreamKind::comm);
}

std::int64_t ParameterSet::local_parameter_count() const {
  std::int64_t n = 0;
  for (const auto& p : params_) n += p.elements;
  return n;
}

TensorId ParameterSet::weight(std::int32_t handle) {
  if (opt_.zero_stage != 3) {
    return handle >= kSpanBase ? spans_[static_cast<std::size_t>(handle - kSpanBase)].weight_view
                               : params_[static_cast<std::size_t>(handle)].weight_view;
  }
  Bucket& bk = bucket_of(handle);
  require(bk.gathered >= 0, "ZeRO-3 weight used before its unit was gathered");
  auto it = bk.gathered_views.find(handle);
  if (it != bk.gathered_views.end()) return it->second;
  const TensorId v = view_in(bk.gathered, handle, bk.begin, opt_.param_dtype, "@" + std::to_string(bk.gathered));
  b_.written_by(v, bk.gather_op);  // readers of this view wait for the all-gather that filled it
  bk.gathered_views[handle] = v;
  return v;
}

TensorId ParameterSet::weight_fp8(std::int32_t handle) {
  require(fp8_ >= 0, "fp8 weight requested without the fp8 cache");
  return handle >= kSpanBase ? spans_[static_cast<std::size_t>(handle - kSpanBase)].fp8_view
                             : params_[static_cast<std::size_t>(handle)].fp8_view;
}

TensorId ParameterSet::grad(std::int32_t handle, std::int32_t mb) {
  if (opt_.zero_stage <= 1) {
    return handle >= kSpanBase ? spans_[static_cast<std::size_t>(handle - kSpanBase)].grad_view
                               : params_[static_cast<std::size_t>(handle)].grad_view;
  }
  // ZeRO-2/3: a transient full-size buffer per bucket and micro-batch, zeroed when allocated.
  Bucket& bk = bucket_of(handle);
  auto it = bk.buffer.find(mb);
  if (it == bk.buffer.end()) {
    const std::string name = "s" + std::to_string(std::max<int>(0, opt_.stage)) + "." + bucket_name(bk) + ".grads.mb" +
                             std::to_string(mb);
    const TensorId buf = b_.tensor(name, opt_.param_dtype, {bk.padded}, TensorRole::comm_buffer);
    OpSpec z;
    z.name = name + ".zero";
    z.kind = OpKind::elementwise;
    z.stream = compute_;
    z.params = elementwise("zero", bk.padded, opt_.param_dtype, 0, 1, 0);
    z.outputs = {buf};
    z.allocs = {buf};
    z.tags.phase = Phase::backward;
    z.tags.microbatch = mb;
    z.tags.stage = opt_.stage;
    b_.add(std::move(z));
    it = bk.buffer.emplace(mb, buf).first;
  }
  auto& views = bk.buffer_views[mb];
  auto vit = views.find(handle);
  if (vit != views.end()) return vit->second;
  const TensorId v = view_in(it->second, handle, bk.begin, opt_.param_dtype, ".grad.mb" + std::to_string(mb));
  views[handle] = v;
  return v;
}

void ParameterSet::grad_written(std::int32_t handle, OpId op, std::int32_t mb, bool last, const plan::OpTags& tags) {
  std::vector<std::int32_t> touched;
  for (std::int32_t pi : handle_params(handle)) {
    const std::int32_t bi = params_[static_cast<std::size_t>(pi)].bucket;
    Bucket& bk = buckets_[static_cast<std::size_t>(bi)];
    bk.writes[mb] += 1;
    bk.last_write = std::max(bk.last_write, op);
    if (std::find(touched.begin(), touched.end(), bi) == touched.end()) touched.push_back(bi);
  }
  for (std::int32_t bi : touched) {
    Bucket& bk = buckets_[static_cast<std::size_t>(bi)];
    if (bk.writes[mb] < bk.expected_writes) continue;
    if (opt_.zero_stage >= 2 || last) reduce_bucket(bk, mb, tags);
    bk.writes.erase(mb);
  }
}

void ParameterSet::reduce_bucket(Bucket& bk, std::int32_t mb, const plan::OpTags& base_tags) {
  plan::OpTags tags = base_tags;
  tags.phase = Phase::communication;
  tags.microbatch = mb;
  tags.layer = -1;
  const DType pdt = opt_.param_dtype;
  const bool per_mb = opt_.zero_stage >= 2;
  const TensorId target = per_mb ? bk.buffer.at(mb) : bk.grad;
  const std::string name = "s" + std::to_string(std::max<int>(0, opt_.stage)) + "." + bucket_name(bk);
  auto collective = [&](const std::string& what, StreamId stream, CollectiveType type, GroupKind group,
                        std::int64_t elements, std::vector<TensorId> in, std::vector<TensorId> out, bool accumulate,
                        std::vector<TensorId> frees) {
    plan::CollectiveParams c;
    c.type = type;
    c.group = group;
    c.bytes = elements * dtype_bytes(pdt);
    c.dtype = pdt;
    c.accumulate = accumulate;
    OpSpec s;
    s.name = name + "." + what + (per_mb ? ".mb" + std::to_string(mb) : "");
    s.kind = OpKind::collective;
    s.stream = stream;
    s.params = c;
    s.inputs = std::move(in);
    s.outputs = std::move(out);
    s.frees = std::move(frees);
    // After the bucket's last gradient write, and after the reductions already issued for this
    // bucket (tp and embedding-group all-reduces may cover a sub-view of it).
    s.deps = bk.reductions;
    s.deps.push_back(bk.last_write);
    s.tags = tags;
    const OpId id = b_.add(std::move(s));
    bk.reductions.push_back(id);
    return id;
  };

  // Sequence parallelism leaves partial gradients of tp-replicated params on each tp rank.
  if (opt_.sequence_parallel && opt_.tp > 1 && bk.rep_end > bk.rep_begin) {
    TensorId rep = target;
    if (bk.rep_begin != bk.begin || bk.rep_end != bk.begin + bk.padded)
      rep = b_.view(per_mb ? target : grads_, name + ".replicated" + (per_mb ? ".mb" + std::to_string(mb) : ""), pdt,
                    {bk.rep_end - bk.rep_begin},
                    (bk.rep_begin - (per_mb ? bk.begin : 0)) * dtype_bytes(pdt));
    collective("tp_allreduce", tp_stream_, CollectiveType::all_reduce, GroupKind::tp, bk.rep_end - bk.rep_begin, {rep},
               {rep}, false, {});
  }
  if (bk.embedding && opt_.pp > 1)
    collective("emb_allreduce", emb_stream_, CollectiveType::all_reduce, GroupKind::emb, bk.padded, {target}, {target},
               false, {});
  if (opt_.dp <= 1) return;
  switch (opt_.zero_stage) {
    case 0:
      collective("allreduce", dp_stream_, CollectiveType::all_reduce, GroupKind::dp, bk.padded, {target}, {target},
                 false, {});
      break;
    case 1:
      collective("reduce_scatter", dp_stream_, CollectiveType::reduce_scatter, GroupKind::dp, bk.padded, {target},
                 {bk.grad_shard}, false, {});
      break;
    default:
      collective("reduce_scatter", dp_stream_, CollectiveType::reduce_scatter, GroupKind::dp, bk.padded, {target},
                 {bk.grad_shard}, true, {target});
      bk.buffer.erase(mb);
      bk.buffer_views.erase(mb);
      break;
  }
}

bool ParameterSet::gathered(std::int32_t unit) const {
  for (const auto& bk : buckets_)
    if (bk.unit == unit) return bk.gathered >= 0;
  return false;
}

void ParameterSet::gather(std::int32_t unit, const plan::OpTags& base_tags) {
  if (opt_.zero_stage != 3) return;
  for (auto& bk : buckets_) {
    if (bk.unit != unit) continue;
    if (bk.gather_count++ > 0) continue;
    const std::string name = "s" + std::to_string(std::max<int>(0, opt_.stage)) + "." + bucket_name(bk) + ".gathered";
    bk.gathered = b_.tensor(name, opt_.param_dtype, {bk.padded}, TensorRole::comm_buffer);
    bk.gathered_views.clear();
    plan::CollectiveParams c;
    c.type = CollectiveType::all_gather;
    c.group = GroupKind::dp;
    c.bytes = bk.padded * dtype_bytes(opt_.param_dtype);
    c.dtype = opt_.param_dtype;
    OpSpec s;
    s.name = name + ".allgather";
    s.kind = OpKind::collective;
    s.stream = dp_stream_;
    s.params = c;
    s.inputs = {bk.weight_shard};
    s.outputs = {bk.gathered};
    s.allocs = {bk.gathered};
    s.tags = base_tags;
    s.tags.phase = Phase::communication;
    bk.gather_op = b_.add(std::move(s));
  }
}

void ParameterSet::release(std::int32_t unit) {
  if (opt_.zero_stage != 3) return;
  for (auto& bk : buckets_) {
    if (bk.unit != unit || bk.gathered < 0) continue;
    if (--bk.gather_count > 0) continue;
    b_.free_at_last_op(bk.gathered);
    bk.gathered = -1;
    bk.gathered_views.clear();
  }
}

void ParameterSet::optimizer_step(const plan::OpTags& base_tags) {
  plan::OpTags tags = base_tags;
  tags.phase = Phase::optimizer;
  tags.layer = -1;
  tags.microbatch = -1;
  const std::string prefix = "s" + std::to_string(std::max<int>(0, opt_.stage)) + ".";
  const DType pdt = opt_.param_dtype;
  const bool sharded = opt_.zero_stage >= 1;

  // The local gradients the step works on, split by how they count in the global norm.
  std::vector<TensorId> grads_sharded, grads_replicated, grads_embedding, all_grads;
  for (auto& bk : buckets_) {
    const TensorId g = sharded ? bk.grad_shard : bk.grad;
    all_grads.push_back(g);
    if (bk.embedding && opt_.pp > 1) grads_embedding.push_back(g);
    else if (opt_.zero_stage != 3 && opt_.tp > 1 && bk.rep_begin == bk.begin && bk.rep_end > bk.begin)
      grads_replicated.push_back(g);
    else grads_sharded.push_back(g);
  }
  auto add_op = [&](std::string name, OpKind kind, StreamId stream, plan::OpParams params, std::vector<TensorId> in,
                    std::vector<TensorId> out, std::vector<TensorId> allocs = {}, std::vector<TensorId> frees = {}) {
    OpSpec s;
    s.name = prefix + std::move(name);
    s.kind = kind;
    s.stream = stream;
    s.params = std::move(params);
    s.inputs = std::move(in);
    s.outputs = std::move(out);
    s.allocs = std::move(allocs);
    s.frees = std::move(frees);
    s.tags = tags;
    return b_.add(std::move(s));
  };
  auto scalar_allreduce = [&](const std::string& name, TensorId t, plan::ReduceOp reduce, bool over_dp) {
    auto one = [&](GroupKind g, StreamId stream) {
      plan::CollectiveParams c;
      c.type = CollectiveType::all_reduce;
      c.group = g;
      c.bytes = 4;
      c.dtype = DType::fp32;
      c.reduce = reduce;
      add_op(name + "." + std::string(to_string(g)), OpKind::collective, stream, c, {t}, {t});
    };
    if (opt_.tp > 1) one(GroupKind::tp, tp_stream_);
    if (opt_.pp > 1) one(GroupKind::pp, pp_stream_);
    if (over_dp && opt_.dp > 1) one(GroupKind::dp, dp_stream_);
  };
  auto elements_of = [&](const std::vector<TensorId>& ts) {
    std::int64_t n = 0;
    for (TensorId t : ts) n += b_.tensor_info(t).elements();
    return n;
  };

  TensorId flag = -1;
  if (opt_.check_finite) {
    flag = b_.tensor(prefix + "found_inf", DType::fp32, {1}, TensorRole::workspace);
    add_op("check_finite", OpKind::elementwise, compute_, elementwise("check_finite", elements_of(all_grads), pdt, 1, 0, 1),
           all_grads, {flag}, {flag});
    scalar_allreduce("found_inf", flag, plan::ReduceOp::max, sharded);
  }
  if (opt_.grad_clip > 0.0) {
    const TensorId acc = b_.tensor(prefix + "grad_norm_sq", DType::fp32, {1}, TensorRole::workspace);
    add_op("grad_norm.zero", OpKind::elementwise, compute_, elementwise("zero", 1, DType::fp32, 0, 1, 0), {}, {acc}, {acc});
    auto norm = [&](const std::vector<TensorId>& ts, double weight, const std::string& what) {
      if (ts.empty()) return;
      add_op("grad_norm_sq." + what, OpKind::elementwise, compute_,
             elementwise("grad_norm_sq", elements_of(ts), pdt, 1, 0, 2, weight), ts, {acc});
    };
    // Replicated gradients are held by every tp rank (tied embeddings by two stages): count them once.
    norm(grads_sharded, 1.0, "sharded");
    norm(grads_replicated, 1.0 / opt_.tp, "replicated");
    norm(grads_embedding, 0.5, "embedding");
    scalar_allreduce("grad_norm_sq", acc, plan::ReduceOp::sum, sharded);
    add_op("clip_grad_norm", OpKind::elementwise, compute_,
           elementwise("clip_by_norm", elements_of(all_grads), pdt, 1, 1, 1, opt_.grad_clip), {acc}, all_grads, {}, {acc});
  }
  OpId last_opt = -1;
  for (auto& bk : buckets_) {
    const TensorId g = sharded ? bk.grad_shard : bk.grad;
    const TensorId w = sharded ? bk.weight_shard : bk.weight;
    plan::OptimizerParams o;
    o.kind = opt_.optimizer;
    o.params = b_.tensor_info(g).elements();
    o.lr = opt_.lr, o.beta1 = opt_.beta1, o.beta2 = opt_.beta2, o.eps = opt_.eps;
    o.weight_decay = opt_.weight_decay, o.momentum = opt_.momentum;
    o.found_inf = flag >= 0;
    std::vector<TensorId> in{g};
    if (flag >= 0) in.push_back(flag);
    std::vector<TensorId> out{w, bk.master, bk.state1};
    if (bk.state2 >= 0) out.push_back(bk.state2);
    last_opt = add_op(bucket_name(bk) + ".optimizer", OpKind::optimizer, compute_, o, in, out);
  }
  if (flag >= 0) b_.free_at_last_op(flag);
  (void)last_opt;
  if (opt_.zero_stage == 1 || opt_.zero_stage == 2) {
    for (auto& bk : buckets_) {
      plan::CollectiveParams c;
      c.type = CollectiveType::all_gather;
      c.group = GroupKind::dp;
      c.bytes = bk.padded * dtype_bytes(pdt);
      c.dtype = pdt;
      add_op(bucket_name(bk) + ".param_allgather", OpKind::collective, dp_stream_, c, {bk.weight_shard}, {bk.weight});
    }
  }
  if (fp8_ >= 0) {
    for (auto& bk : buckets_) {
      plan::CastParams c;
      c.from = pdt;
      c.to = DType::fp8_e4m3;
      c.elements = bk.padded;
      add_op(bucket_name(bk) + ".fp8_cast", OpKind::cast, compute_, c, {bk.weight}, {bk.fp8});
    }
  }
  // Gradients start the next step at zero.
  const TensorId gbuf = opt_.zero_stage <= 1 ? grads_ : grad_shards_;
  add_op("zero_grads", OpKind::elementwise, compute_,
         elementwise("zero", b_.tensor_info(gbuf).elements(), pdt, 0, 1, 0), {}, {gbuf});
}

}  // namespace clustersim::models::build
