// MLP and ResNet builders; see vision.hpp.
#include "vision.hpp"

#include <cmath>
#include <functional>
#include <string>

#include "layout.hpp"
#include "parameters.hpp"
#include "program_builder.hpp"

namespace clustersim::models::build {

namespace {

using plan::TensorInit;

struct Precisions {
  DType adt = DType::fp32, gdt = DType::fp32, pdt = DType::fp32;
};

Precisions precisions_of(Precision p) {
  switch (p) {
    case Precision::fp32:
      return {DType::fp32, DType::fp32, DType::fp32};
    case Precision::tf32:
      return {DType::fp32, DType::tf32, DType::fp32};
    case Precision::fp16:
      return {DType::fp16, DType::fp16, DType::fp16};
    case Precision::bf16:
    case Precision::fp8:  // fp8 applies to transformer GEMMs only; others train in bf16
      return {DType::bf16, DType::bf16, DType::bf16};
  }
  return {};
}

ParamOptions options_of(const Scenario& sc, const Precisions& pr) {
  ParamOptions o;
  o.zero_stage = sc.training.zero_stage;
  o.dp = sc.parallelism.dp;
  o.master_weights = pr.pdt != DType::fp32;
  o.param_dtype = pr.pdt;
  o.bucket_bytes = sc.training.bucket_mib * 1024.0 * 1024.0;
  o.optimizer = sc.training.optimizer;
  o.lr = sc.training.lr, o.beta1 = sc.training.beta1, o.beta2 = sc.training.beta2, o.eps = sc.training.eps;
  o.weight_decay = sc.training.weight_decay, o.momentum = sc.training.momentum;
  o.grad_clip = sc.training.grad_clip;
  o.check_finite = sc.training.precision == Precision::fp16 && sc.training.loss_scaling.dynamic;
  o.stage = 0;
  return o;
}

TensorInit normal(double std, std::int64_t key) {
  TensorInit i;
  i.kind = TensorInit::Kind::normal;
  i.std = std;
  i.seed_key = key;
  return i;
}
TensorInit constant(bool one, std::int64_t key) {
  TensorInit i;
  i.kind = one ? TensorInit::Kind::ones : TensorInit::Kind::zeros;
  i.seed_key = key;
  return i;
}

// Shared scaffolding: a data-parallel program with a backward tape.
class NetBuilder {
 public:
  NetBuilder(const Scenario& sc, plan::Plan& plan)
      : sc_(sc), pr_(precisions_of(sc.training.precision)), b_(plan, "replica"), params_(b_, options_of(sc, pr_)) {
    compute_ = b_.stream("compute", StreamKind::compute);
    data_ = b_.stream("data", StreamKind::copy);
    B_ = sc.training.micro_batch;
    m_ = static_cast<std::int32_t>(sc.accumulation_steps());
    grad_scale_ = 1.0 / static_cast<double>(sc.training.global_batch);
  }

  std::string tname(const std::string& what) const { return "mb" + std::to_string(mb_) + "." + what; }
  TensorId act(const std::string& what, std::vector<std::int64_t> shape, TensorRole role = TensorRole::activation) {
    return b_.tensor(tname(what), pr_.adt, std::move(shape), role);
  }
  OpId emit(const std::string& what, OpKind kind, plan::OpParams params, std::vector<TensorId> in,
            std::vector<TensorId> out, std::vector<TensorId> allocs = {}, std::vector<TensorId> frees = {},
            StreamId stream = 0) {
    OpSpec s;
    s.name = tname(what);
    s.kind = kind;
    s.stream = stream;
    s.params = std::move(params);
    s.inputs = std::move(in);
    s.outputs = std::move(out);
    s.allocs = std::move(allocs);
    s.frees = std::move(frees);
    s.tags = tags_;
    return b_.add(std::move(s));
  }
  TensorId load(const std::string& content, std::vector<std::int64_t> shape, DType dtype) {
    const TensorId t = b_.tensor(tname(content), dtype, shape, TensorRole::input);
    plan::IoParams io;
    io.bytes = b_.tensor_info(t).bytes;
    io.content = content;
    const Phase phase = tags_.phase;
    tags_.phase = Phase::data;
    emit("load." + content, OpKind::io, io, {}, {t}, {t}, {}, data_);
    tags_.phase = phase;
    return t;
  }
  std::int32_t param(const std::string& name, std::vector<std::int64_t> shape, TensorInit init, std::int32_t unit) {
    ParamDecl p;
    p.name = name;
    p.shape = std::move(shape);
    p.init = std::move(init);
    (void)unit;
    p.unit = 0;  // one bucket group; under ZeRO-3 one unit gathered around each pass
    return params_.declare(std::move(p));
  }
  void grad_written(std::int32_t handle, OpId op) { params_.grad_written(handle, op, mb_, mb_ == m_ - 1, tags_); }

  // Cross-entropy forward over (rows, classes) logits with labels; backward in place.
  void loss(TensorId logits, TensorId labels, std::int64_t rows, std::int64_t classes) {
    losses_ = b_.tensor(tname("losses"), DType::fp32, {rows}, TensorRole::activation);
    plan::SoftmaxXentParams x;
    x.rows = rows, x.vocab = classes, x.direction = Direction::forward, x.dtype = pr_.adt, x.grad_scale = grad_scale_;
    emit("cross_entropy", OpKind::softmax_xent, x, {logits, labels}, {losses_}, {losses_});
  }
  void loss_backward(TensorId logits, TensorId labels, std::int64_t rows, std::int64_t classes) {
    plan::SoftmaxXentParams x;
    x.rows = rows, x.vocab = classes, x.direction = Direction::backward, x.dtype = pr_.adt, x.grad_scale = grad_scale_;
    emit("cross_entropy.bwd", OpKind::softmax_xent, x, {logits, labels}, {logits}, {}, {labels, losses_});
  }

  // Linear layer y = x W^T + b on (rows, in) -> (rows, out). Returns y; pushes its backward.
  TensorId linear(const std::string& name, TensorId x, std::int64_t rows, std::int64_t in, std::int64_t out,
                  std::int32_t w, std::int32_t bias, bool free_input_after_backward) {
    const TensorId y = act(name, {rows, out});
    plan::GemmParams g;
    g.m = rows, g.n = out, g.k = in, g.dtype = pr_.gdt, g.trans_b = true, g.bias = true;
    emit(name, OpKind::gemm, g, {x, params_.weight(w), params_.weight(bias)}, {y}, {y});
    tape_.push_back([=, this](TensorId dy) {
      // dW += dy^T x; db += colsum(dy); dx = dy W.
      TensorId dx = -1;
      if (!first_layer_input(x)) {
        dx = act(name + ".dx", {rows, in}, TensorRole::activation_grad);
        plan::GemmParams d;
        d.m = rows, d.n = in, d.k = out, d.dtype = pr_.gdt;
        emit(name + ".dgrad", OpKind::gemm, d, {dy, params_.weight(w)}, {dx}, {dx});
      }
      plan::GemmParams wg;
      wg.m = out, wg.n = in, wg.k = rows, wg.dtype = pr_.gdt, wg.trans_a = true, wg.accumulate = true;
      const TensorId gw = params_.grad(w, mb_);
      grad_written(w, emit(name + ".wgrad", OpKind::gemm, wg, {dy, x}, {gw}, {},
                           free_input_after_backward ? std::vector<TensorId>{x} : std::vector<TensorId>{}));
      const TensorId gb = params_.grad(bias, mb_);
      grad_written(bias, emit(name + ".bgrad", OpKind::elementwise,
                              elementwise("bias_grad", rows * out, pr_.adt, 1, 0, 1), {dy}, {gb}, {}, {dy}));
      return dx;
    });
    return y;
  }

  TensorId relu(const std::string& name, TensorId x, std::vector<std::int64_t> shape, bool free_input) {
    std::int64_t n = 1;
    for (auto s : shape) n *= s;
    const TensorId y = act(name, shape);
    emit(name, OpKind::elementwise, elementwise("relu", n, pr_.adt, 1, 1, 1), {x}, {y}, {y},
         free_input ? std::vector<TensorId>{x} : std::vector<TensorId>{});
    tape_.push_back([=, this](TensorId dy) {
      const TensorId dx = act(name + ".dx", shape, TensorRole::activation_grad);
      emit(name + ".bwd", OpKind::elementwise, elementwise("relu_backward", n, pr_.adt, 2, 1, 1), {y, dy}, {dx}, {dx},
           {y, dy});
      return dx;
    });
    return y;
  }

  bool first_layer_input(TensorId x) const { return x == input_; }

  void run_backward(TensorId dy) {
    for (auto it = tape_.rbegin(); it != tape_.rend(); ++it) dy = (*it)(dy);
    tape_.clear();
  }

  void begin_microbatch(std::int32_t mb, Phase phase) {
    mb_ = mb;
    tags_ = plan::OpTags{};
    tags_.microbatch = mb;
    tags_.stage = 0;
    tags_.phase = phase;
  }

  const Scenario& sc_;
  Precisions pr_;
  ProgramBuilder b_;
  ParameterSet params_;
  StreamId compute_ = 0, data_ = 0;
  std::int64_t B_ = 1;
  std::int32_t m_ = 1, mb_ = 0;
  double grad_scale_ = 1.0;
  plan::OpTags tags_;
  TensorId input_ = -1, losses_ = -1;
  std::vector<std::function<TensorId(TensorId)>> tape_;
};

void finish_groups(const Scenario& sc, plan::Plan& plan) {
  const RankLayout layout(1, sc.parallelism.dp, 1, "tp-dp-pp");
  plan.world_size = layout.world();
  layout.add_groups(plan, false);
  plan.program_of_rank.assign(static_cast<std::size_t>(plan.world_size), 0);
}

}  // namespace

double build_mlp(const Scenario& sc, plan::Plan& plan) {
  NetBuilder n(sc, plan);
  const auto& dims = sc.model.arch.mlp_dims;
  require(dims.size() >= 2, "mlp needs input and output widths");
  const std::size_t layers = dims.size() - 1;
  std::vector<std::int32_t> w(layers), bias(layers);
  for (std::size_t i = layers; i-- > 0;) {  // backward order
    const std::string name = "fc" + std::to_string(i);
    // He initialisation for ReLU networks (He et al. 2015).
    w[i] = n.param(name + ".weight", {dims[i + 1], dims[i]},
                   normal(std::sqrt(2.0 / static_cast<double>(dims[i])), 10 + 2 * static_cast<std::int64_t>(i)),
                   static_cast<std::int32_t>(i));
    bias[i] = n.param(name + ".bias", {dims[i + 1]}, constant(false, 11 + 2 * static_cast<std::int64_t>(i)),
                      static_cast<std::int32_t>(i));
  }
  n.params_.finalize();
  const std::int64_t B = n.B_;
  for (std::int32_t mb = 0; mb < n.m_; ++mb) {
    n.begin_microbatch(mb, Phase::forward);
    n.params_.gather(0, n.tags_);
    TensorId x = n.load("features", {B, dims[0]}, n.pr_.adt);
    n.input_ = x;
    const TensorId labels = n.load("labels", {B}, DType::int32);
    for (std::size_t i = 0; i < layers; ++i) {
      const std::string name = "fc" + std::to_string(i);
      x = n.linear(name, x, B, dims[i], dims[i + 1], w[i], bias[i], i == 0);
      if (i + 1 < layers) x = n.relu(name + ".relu", x, {B, dims[i + 1]}, true);  // ReLU's backward needs its output
    }
    n.loss(x, labels, B, dims.back());
    n.params_.release(0);
    n.tags_.phase = Phase::backward;
    n.params_.gather(0, n.tags_);
    n.loss_backward(x, labels, B, dims.back());
    n.run_backward(x);
    n.params_.release(0);
  }
  plan::OpTags tags;
  tags.stage = 0;
  n.params_.optimizer_step(tags);
  finish_groups(sc, plan);
  double flops = 0.0;
  for (std::size_t i = 0; i < layers; ++i) flops += 2.0 * static_cast<double>(dims[i] * dims[i + 1]);
  return flops;
}

double build_resnet(const Scenario& sc, plan::Plan& plan) {
  NetBuilder n(sc, plan);
  const ArchSpec& a = sc.model.arch;
  const std::int64_t B = n.B_;
  double fwd_flops = 0.0;

  struct Conv {
    std::int32_t w = -1, gamma = -1, beta = -1;
    std::int64_t cin = 0, cout = 0, k = 1, stride = 1, pad = 0;
  };
  struct Block {
    Conv c1, c2, c3, down;
    bool has_down = false;
  };
  std::int64_t key = 1000;
  std::int32_t unit = 0;
  auto conv_params = [&](const std::string& name, std::int64_t cin, std::int64_t cout, std::int64_t k,
                         std::int64_t stride, std::int64_t pad) {
    Conv c{-1, -1, -1, cin, cout, k, stride, pad};
    // Declared in backward order: the BN parameters' gradients come before the convolution's.
    c.gamma = n.param(name + ".bn.weight", {cout}, constant(true, key++), unit);
    c.beta = n.param(name + ".bn.bias", {cout}, constant(false, key++), unit);
    c.w = n.param(name + ".weight", {cout, k, k, cin},
                  normal(std::sqrt(2.0 / static_cast<double>(cin * k * k)), key++), unit);
    return c;
  };

  // Architecture (torchvision ResNet v1.5: the stride sits on the 3x3 convolution).
  std::vector<Block> blocks;
  {
    std::int64_t cin = a.base_width;
    for (std::size_t st = 0; st < a.resnet_blocks.size(); ++st)
      for (std::int64_t bi = 0; bi < a.resnet_blocks[st]; ++bi) {
        const std::int64_t width = a.base_width << st;
        const std::int64_t stride = (st > 0 && bi == 0) ? 2 : 1;
        Block blk;
        blk.c1 = {-1, -1, -1, cin, width, 1, 1, 0};
        blk.c2 = {-1, -1, -1, width, width, 3, stride, 1};
        blk.c3 = {-1, -1, -1, width, 4 * width, 1, 1, 0};
        blk.has_down = stride != 1 || cin != 4 * width;
        if (blk.has_down) blk.down = {-1, -1, -1, cin, 4 * width, 1, stride, 0};
        blocks.push_back(blk);
        cin = 4 * width;
      }
  }
  const std::int64_t final_channels = blocks.empty() ? a.base_width : blocks.back().c3.cout;
  // Declare parameters in backward order: fc, blocks in reverse (c3, c2, c1, downsample), stem.
  const std::int32_t fc_w = n.param("fc.weight", {a.classes, final_channels}, normal(0.01, key++), unit);
  const std::int32_t fc_b = n.param("fc.bias", {a.classes}, constant(false, key++), unit);
  for (std::size_t i = blocks.size(); i-- > 0;) {
    unit = static_cast<std::int32_t>(i) + 1;
    Block& blk = blocks[i];
    const std::string name = "block" + std::to_string(i);
    if (blk.has_down)
      blk.down = conv_params(name + ".downsample", blk.down.cin, blk.down.cout, 1, blk.down.stride, 0);
    blk.c3 = conv_params(name + ".conv3", blk.c3.cin, blk.c3.cout, 1, 1, 0);
    blk.c2 = conv_params(name + ".conv2", blk.c2.cin, blk.c2.cout, 3, blk.c2.stride, 1);
    blk.c1 = conv_params(name + ".conv1", blk.c1.cin, blk.c1.cout, 1, 1, 0);
  }
  unit = static_cast<std::int32_t>(blocks.size()) + 1;
  const Conv stem = conv_params("stem", a.image_channels, a.base_width, 7, 2, 3);
  n.params_.finalize();

  // conv -> batch norm (-> relu); pushes the backward of each op onto the tape.
  auto conv_bn = [&](const std::string& name, TensorId x, const Conv& c, std::int64_t& h, std::int64_t& w, bool relu,
                     bool count_flops) {
    plan::Conv2dParams cp;
    cp.batch = B, cp.in_channels = c.cin, cp.out_channels = c.cout, cp.height = h, cp.width = w;
    cp.kernel_h = cp.kernel_w = c.k, cp.stride = c.stride, cp.padding = c.pad, cp.dtype = n.pr_.gdt;
    const std::int64_t oh = cp.out_height(), ow = cp.out_width();
    if (count_flops)
      fwd_flops += 2.0 * static_cast<double>(oh * ow * c.cout * c.cin * c.k * c.k);
    const TensorId y = n.act(name, {B, oh, ow, c.cout});
    n.emit(name, OpKind::conv2d, cp, {x, n.params_.weight(c.w)}, {y}, {y});
    const TensorId z = n.act(name + ".bn", {B, oh, ow, c.cout});
    const TensorId mean = n.b_.tensor(n.tname(name + ".bn.mean"), DType::fp32, {c.cout}, TensorRole::activation);
    const TensorId rstd = n.b_.tensor(n.tname(name + ".bn.rstd"), DType::fp32, {c.cout}, TensorRole::activation);
    plan::NormParams np;
    np.type = NormType::batchnorm, np.rows = B * oh * ow, np.cols = c.cout, np.dtype = n.pr_.adt;
    n.emit(name + ".bn", OpKind::norm, np, {y, n.params_.weight(c.gamma), n.params_.weight(c.beta)}, {z, mean, rstd},
           {z, mean, rstd});
    const bool x_is_input = x == n.input_;
    n.tape_.push_back([=, &n](TensorId dz) {
      plan::NormParams bp = np;
      bp.direction = Direction::backward;
      const TensorId dy = n.act(name + ".bn.dx", {B, oh, ow, c.cout}, TensorRole::activation_grad);
      const TensorId gg = n.params_.grad(c.gamma, n.mb_), gb = n.params_.grad(c.beta, n.mb_);
      const OpId op = n.emit(name + ".bn.bwd", OpKind::norm, bp, {dz, y, n.params_.weight(c.gamma), mean, rstd},
                             {dy, gg, gb}, {dy}, {dz, y, mean, rstd});
      n.grad_written(c.gamma, op);
      n.grad_written(c.beta, op);
      plan::Conv2dParams fp = cp;
      fp.pass = plan::ConvPass::backward_filter;
      const TensorId gw = n.params_.grad(c.w, n.mb_);
      n.grad_written(c.w, n.emit(name + ".wgrad", OpKind::conv2d, fp, {dy, x}, {gw}, {},
                                 x_is_input ? std::vector<TensorId>{x} : std::vector<TensorId>{}));
      if (x_is_input) {
        n.b_.free_at_last_op(dy);
        return TensorId{-1};
      }
      plan::Conv2dParams dp = cp;
      dp.pass = plan::ConvPass::backward_data;
      const TensorId dx = n.act(name + ".dx", {B, h, w, c.cin}, TensorRole::activation_grad);
      n.emit(name + ".dgrad", OpKind::conv2d, dp, {dy, n.params_.weight(c.w)}, {dx}, {dx}, {dy});
      return dx;
    });
    h = oh, w = ow;
    return relu ? n.relu(name + ".relu", z, {B, oh, ow, c.cout}, true) : z;
  };

  for (std::int32_t mb = 0; mb < n.m_; ++mb) {
    n.begin_microbatch(mb, Phase::forward);
    n.params_.gather(0, n.tags_);
    const bool count = mb == 0;
    std::int64_t h = a.image_size, w = a.image_size;
    const TensorId img = n.load("images", {B, h, w, a.image_channels}, n.pr_.adt);
    n.input_ = img;
    const TensorId labels = n.load("labels", {B}, DType::int32);
    TensorId x = conv_bn("stem", img, stem, h, w, true, count);
    // Max pool 3x3 stride 2 padding 1.
    {
      const std::int64_t oh = (h + 2 - 3) / 2 + 1, ow = (w + 2 - 3) / 2 + 1, ch = a.base_width;
      const TensorId y = n.act("maxpool", {B, oh, ow, ch});
      const TensorId arg = n.b_.tensor(n.tname("maxpool.argmax"), DType::int32, {B, oh, ow, ch}, TensorRole::activation);
      auto p = elementwise("maxpool", B * h * w * ch, n.pr_.adt, 1, 0, 9);
      p.bytes_written = B * oh * ow * ch * (dtype_bytes(n.pr_.adt) + 4);
      p.dims = {B, h, w, ch};
      n.emit("maxpool", OpKind::elementwise, p, {x}, {y, arg}, {y, arg});
      const std::int64_t ih = h, iw = w;
      n.tape_.push_back([=, &n](TensorId dy) {
        const TensorId dx = n.act("maxpool.dx", {B, ih, iw, ch}, TensorRole::activation_grad);
        auto bp = elementwise("maxpool_backward", B * ih * iw * ch, n.pr_.adt, 0, 1, 1);
        bp.bytes_read = B * oh * ow * ch * (dtype_bytes(n.pr_.adt) + 4);
        bp.dims = {B, ih, iw, ch};
        // The pooled output fed the first block, whose backward has just run: free it here.
        n.emit("maxpool.bwd", OpKind::elementwise, bp, {dy, arg}, {dx}, {dx}, {dy, arg, y});
        return dx;
      });
      x = y, h = oh, w = ow;
    }
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      const Block& blk = blocks[i];
      const std::string name = "block" + std::to_string(i);
      const std::int64_t h0 = h, w0 = w;
      // The block input feeds both branches: its gradient is the sum of the two (add_inplace).
      TensorId shortcut = x;
      std::int64_t hs = h0, ws = w0;
      if (blk.has_down) shortcut = conv_bn(name + ".downsample", x, blk.down, hs, ws, false, count);
      const std::size_t split = n.tape_.size();
      TensorId y = conv_bn(name + ".conv1", x, blk.c1, h, w, true, count);
      y = conv_bn(name + ".conv2", y, blk.c2, h, w, true, count);
      y = conv_bn(name + ".conv3", y, blk.c3, h, w, false, count);
      const TensorId sum = n.act(name + ".add", {B, h, w, blk.c3.cout});
      const std::int64_t elems = B * h * w * blk.c3.cout;
      std::vector<TensorId> add_frees{y};
      if (blk.has_down) add_frees.push_back(shortcut);
      n.emit(name + ".add", OpKind::elementwise, elementwise("residual_add", elems, n.pr_.adt, 2, 1, 1), {y, shortcut},
             {sum}, {sum}, std::move(add_frees));
      // Backward of the main branch and the shortcut: move the main branch's tape entries into one
      // closure that runs them, then joins the shortcut gradient.
      std::vector<std::function<TensorId(TensorId)>> branch(n.tape_.begin() + static_cast<std::ptrdiff_t>(split),
                                                            n.tape_.end());
      n.tape_.resize(split);
      const bool down = blk.has_down;
      std::function<TensorId(TensorId)> down_bwd;
      if (down) {
        down_bwd = n.tape_.back();
        n.tape_.pop_back();
      }
      n.tape_.push_back([=, &n](TensorId dsum) {
        // dsum is the gradient of (y + shortcut); both branches receive it.
        const TensorId dshort = n.act(name + ".add.grad", {B, h, w, blk.c3.cout}, TensorRole::activation_grad);
        n.emit(name + ".add.bwd", OpKind::elementwise, elementwise("copy", elems, n.pr_.adt, 1, 1, 0), {dsum}, {dshort},
               {dshort});
        TensorId d = dsum;
        for (auto it = branch.rbegin(); it != branch.rend(); ++it) d = (*it)(d);
        TensorId ds = down ? down_bwd(dshort) : dshort;
        n.emit(name + ".join", OpKind::elementwise, elementwise("add_inplace", B * h0 * w0 * blk.c1.cin, n.pr_.adt, 2, 1, 1),
               {ds}, {d}, {}, {ds});
        return d;
      });
      // The block input stays alive for the convolutions' weight gradients; the ReLU that produced it
      // frees it in its own backward, which runs after this block's.
      const TensorId relu_out = n.relu(name + ".relu", sum, {B, h, w, blk.c3.cout}, true);
      x = relu_out;
    }
    // Global average pool, fc, loss.
    const std::int64_t ch = final_channels;
    const TensorId pooled = n.act("avgpool", {B, ch});
    {
      auto p = elementwise("global_avgpool", B * h * w * ch, n.pr_.adt, 1, 0, 1);
      p.bytes_written = B * ch * dtype_bytes(n.pr_.adt);
      p.dims = {B, h, w, ch};
      n.emit("avgpool", OpKind::elementwise, p, {x}, {pooled}, {pooled});
      const std::int64_t ph = h, pw = w;
      n.tape_.push_back([=, &n](TensorId dy) {
        const TensorId dx = n.act("avgpool.dx", {B, ph, pw, ch}, TensorRole::activation_grad);
        auto bp = elementwise("global_avgpool_backward", B * ph * pw * ch, n.pr_.adt, 0, 1, 1);
        bp.bytes_read = B * ch * dtype_bytes(n.pr_.adt);
        bp.dims = {B, ph, pw, ch};
        n.emit("avgpool.bwd", OpKind::elementwise, bp, {dy}, {dx}, {dx}, {dy});
        return dx;
      });
    }
    if (count) fwd_flops += 2.0 * static_cast<double>(ch * a.classes);
    const TensorId logits = n.linear("fc", pooled, B, ch, a.classes, fc_w, fc_b, true);
    n.loss(logits, labels, B, a.classes);
    n.params_.release(0);
    n.tags_.phase = Phase::backward;
    n.params_.gather(0, n.tags_);
    n.loss_backward(logits, labels, B, a.classes);
    n.run_backward(logits);
    n.params_.release(0);
  }
  plan::OpTags tags;
  tags.stage = 0;
  n.params_.optimizer_step(tags);
  finish_groups(sc, plan);
  return fwd_flops;
}

}  // namespace clustersim::models::build
