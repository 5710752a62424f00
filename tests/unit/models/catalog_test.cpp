// Tests of the built-in catalogs (models/catalog/*.json through Catalog::builtin) and of
// parameter_count: every architecture against its published parameter count, GPU and link numbers
// against vendor datasheets, strict parsing of catalog documents, and lookups with "did you mean".
// Reference numbers below are typed from the cited sources, never from this code's output.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "clustersim/models/catalog.hpp"
#include "clustersim/plan/error.hpp"

namespace clustersim::models {
namespace {

using nlohmann::json;

const Catalog& cat() {
  return Catalog::builtin();
}

// --- architectures: published parameter counts --------------------------------------------------

enum class Match { exact, within_half_percent, narayanan_formula };

struct Published {
  const char* name;
  std::int64_t count;
  Match match;
};

// Each number is copied from the source in its comment.
const Published kPublished[] = {
    // Hugging Face model card / safetensors of openai-community/gpt2: 124,439,808 parameters.
    {"gpt2-124m", 124'439'808, Match::exact},
    // Hugging Face openai-community/gpt2-medium: 354,823,168 parameters.
    {"gpt2-355m", 354'823'168, Match::exact},
    // Brown et al. 2020, Table 2.1: "GPT-3 Small 125M" (rounded; the true size is 0.18% above).
    {"gpt3-125m", 125'000'000, Match::within_half_percent},
    // Brown et al. 2020 give "350M", 1.7% off the true size. Narayanan et al. SC'21, eq. (2):
    // 12*L*h^2*(1 + 13/(12h) + (V+s)/(12*L*h)) with L=24, h=1024, V=50257, s=2048 = 355,869,696.
    {"gpt3-350m", 355'869'696, Match::narayanan_formula},
    // Brown et al. 2020, Table 2.1: "GPT-3 Large 760M".
    {"gpt3-760m", 760'000'000, Match::within_half_percent},
    // Paper "1.3B" is 1.2% off. Narayanan eq. (2), L=24, h=2048: 1,315,719,168.
    {"gpt3-1.3b", 1'315'719'168, Match::narayanan_formula},
    // Paper "2.7B" is 1.8% off. Narayanan eq. (2), L=32, h=2560: 2,651,548,160.
    {"gpt3-2.7b", 2'651'548'160, Match::narayanan_formula},
    // Paper "6.7B" is 0.6% off. Narayanan eq. (2), L=32, h=4096: 6,658,396,160.
    {"gpt3-6.7b", 6'658'396'160, Match::narayanan_formula},
    // Paper "13B" is 1.1% off. Narayanan eq. (2), L=40, h=5120: 12,853,376,000.
    {"gpt3-13b", 12'853'376'000, Match::narayanan_formula},
    // Brown et al. 2020, Table 2.1: "GPT-3 175B" (the true size is 0.23% below).
    {"gpt3-175b", 175'000'000'000, Match::within_half_percent},
    // Hugging Face meta-llama/Llama-2-7b-hf: 6,738,415,616 parameters.
    {"llama2-7b", 6'738'415'616, Match::exact},
    // Hugging Face meta-llama/Llama-2-13b-hf: 13,015,864,320 parameters.
    {"llama2-13b", 13'015'864'320, Match::exact},
    // Hugging Face meta-llama/Llama-2-70b-hf: 68,976,648,192 parameters.
    {"llama2-70b", 68'976'648'192, Match::exact},
    // Hugging Face meta-llama/Meta-Llama-3-8B: 8,030,261,248 parameters.
    {"llama3-8b", 8'030'261'248, Match::exact},
    // Hugging Face meta-llama/Meta-Llama-3-70B: 70,553,706,496 parameters.
    {"llama3-70b", 70'553'706'496, Match::exact},
    // Hugging Face meta-llama/Llama-3.1-405B: 405,853,388,800 parameters.
    {"llama3-405b", 405'853'388'800, Match::exact},
    // Hugging Face model card google-bert/bert-large-uncased: "336M parameters" (Devlin et al. 2019
    // round to 340M, 1.2% off). Counted with the pre-training heads (MLM transform, tied decoder
    // with output bias, NSP).
    {"bert-large", 336'000'000, Match::within_half_percent},
    // torchvision model documentation, resnet50 num_params: 25,557,032.
    {"resnet-50", 25'557'032, Match::exact},
    // torchvision model documentation, resnet101 num_params: 44,549,160.
    {"resnet-101", 44'549'160, Match::exact},
    // torchvision model documentation, resnet152 num_params: 60,192,808.
    {"resnet-152", 60'192'808, Match::exact},
    // Keras example mnist_mlp.py, model.summary(): "Total params: 669,706" (784-512-512-10).
    {"mlp", 669'706, Match::exact},
    // Catalog-defined validation models, counted by hand:
    // gpt-tiny: 256*128 (wte) + 256*128 (wpe) + 2*(12*128^2 + 13*128) + 2*128 = 462,336.
    {"gpt-tiny", 462'336, Match::exact},
    // gpt-small-cpu: 256*256 + 512*256 + 4*(12*256^2 + 13*256) + 2*256 = 3,356,160.
    {"gpt-small-cpu", 3'356'160, Match::exact},
    // llama-tiny: 2*256*128 + 2*(128*128 + 2*128*64 + 128*128 + 3*128*384 + 2*128) + 128 = 459,392.
    {"llama-tiny", 459'392, Match::exact},
};

TEST(CatalogArchitectures, EveryArchitectureHasAPublishedCountInThisTest) {
  std::set<std::string> tested;
  for (const auto& p : kPublished) tested.insert(p.name);
  for (const auto& name : cat().architecture_names())
    EXPECT_TRUE(tested.count(name)) << name << " has no published parameter count in kPublished";
  for (const auto& p : kPublished) EXPECT_NO_THROW((void)cat().architecture(p.name, "test")) << p.name;
}

TEST(CatalogArchitectures, ParameterCountsMatchPublishedCounts) {
  for (const auto& p : kPublished) {
    SCOPED_TRACE(p.name);
    const ArchSpec& a = cat().architecture(p.name, "test");
    EXPECT_EQ(a.published_parameters, p.count) << "catalog's published_parameters differs from the cited number";
    const std::int64_t count = parameter_count(a);
    const double rel = std::fabs(static_cast<double>(count - p.count)) / static_cast<double>(p.count);
    EXPECT_LE(rel, 0.005) << "computed " << count << " vs published " << p.count;
    if (p.match == Match::exact) {
      EXPECT_EQ(count, p.count);
    }
    // Narayanan et al.'s closed form counts every tensor of the model except the final LayerNorm (2h).
    if (p.match == Match::narayanan_formula) {
      EXPECT_EQ(count - p.count, 2 * a.hidden);
    }
  }
}

TEST(CatalogArchitectures, PublishedShapes) {
  // Brown et al. 2020, Table 2.1: GPT-3 175B has 96 layers, d_model 12288, 96 heads of 128.
  const ArchSpec& g = cat().architecture("gpt3-175b", "t");
  EXPECT_EQ(g.layers, 96);
  EXPECT_EQ(g.hidden, 12288);
  EXPECT_EQ(g.heads, 96);
  EXPECT_EQ(g.head_dim(), 128);
  EXPECT_EQ(g.vocab, 50257);
  EXPECT_EQ(g.max_seq, 2048);
  EXPECT_TRUE(g.tied_embeddings);
  // Llama 3 paper, Table 3: 8B has 32 layers, 4096 dim, FFN 14336, 32 heads, 8 KV heads; vocabulary
  // 128,256 (Hugging Face config); RoPE theta 500,000.
  const ArchSpec& l = cat().architecture("llama3-8b", "t");
  EXPECT_EQ(l.family, ArchFamily::llama);
  EXPECT_EQ(l.kv_heads, 8);
  EXPECT_EQ(l.ffn_hidden, 14336);
  EXPECT_EQ(l.vocab, 128256);
  EXPECT_EQ(l.norm, NormType::rmsnorm);
  EXPECT_EQ(l.activation, "swiglu");
  EXPECT_EQ(l.positions, "rope");
  EXPECT_FALSE(l.tied_embeddings);
  EXPECT_FALSE(l.bias);
  EXPECT_DOUBLE_EQ(l.rope_theta, 500000.0);
  // Llama 2 paper, Table 1 / HF configs: only 70B uses GQA (8 KV heads); 7B FFN 11008.
  EXPECT_EQ(cat().architecture("llama2-7b", "t").kv_heads, 32);
  EXPECT_EQ(cat().architecture("llama2-7b", "t").ffn_hidden, 11008);
  EXPECT_EQ(cat().architecture("llama2-70b", "t").kv_heads, 8);
  EXPECT_EQ(cat().architecture("llama3-405b", "t").ffn_hidden, 53248);
  // Devlin et al. 2019: BERT is bidirectional, 512 positions, 2 segment types.
  const ArchSpec& b = cat().architecture("bert-large", "t");
  EXPECT_FALSE(b.causal);
  EXPECT_EQ(b.type_vocab, 2);
  EXPECT_EQ(b.max_seq, 512);
  // He et al. 2016, Table 1: ResNet-50 stages of 3, 4, 6, 3 bottleneck blocks.
  EXPECT_EQ(cat().architecture("resnet-50", "t").resnet_blocks, (std::vector<std::int64_t>{3, 4, 6, 3}));
  EXPECT_EQ(cat().architecture("mlp", "t").mlp_dims, (std::vector<std::int64_t>{784, 512, 512, 10}));
}

// Structure checks on small hand-made architectures (counts worked out by hand in the comments).
TEST(ParameterCount, HandCountedVariants) {
  ArchSpec a;
  a.family = ArchFamily::gpt;
  a.layers = 1;
  a.hidden = 4;
  a.heads = 2;
  a.kv_heads = 2;
  a.ffn_hidden = 8;
  a.vocab = 10;
  a.max_seq = 3;
  // wte 40 + wpe 12 + layer (attn 4*16 + 16 biases = 80; mlp 2*32 + 8 + 4 = 76; 2 LN = 16) + final LN 8.
  EXPECT_EQ(parameter_count(a), 40 + 12 + 80 + 76 + 16 + 8);
  a.tied_embeddings = false;  // + untied head 10*4
  EXPECT_EQ(parameter_count(a), 40 + 12 + 80 + 76 + 16 + 8 + 40);
  // Llama-style: no biases, RMSNorm, RoPE, SwiGLU, GQA with 1 KV head of 2 dims.
  ArchSpec l;
  l.family = ArchFamily::llama;
  l.layers = 2;
  l.hidden = 4;
  l.heads = 2;
  l.kv_heads = 1;
  l.ffn_hidden = 6;
  l.vocab = 10;
  l.max_seq = 100;
  l.norm = NormType::rmsnorm;
  l.activation = "swiglu";
  l.positions = "rope";
  l.tied_embeddings = false;
  l.bias = false;
  // embed 40 + head 40 + 2 x (q 16 + k 8 + v 8 + o 16 + mlp 3*24 + norms 8) + final 4.
  EXPECT_EQ(parameter_count(l), 40 + 40 + 2 * (16 + 8 + 8 + 16 + 72 + 8) + 4);
  ArchSpec m;
  m.family = ArchFamily::mlp;
  m.mlp_dims = {3, 5, 2};  // 3*5+5 + 5*2+2
  EXPECT_EQ(parameter_count(m), 20 + 12);
}

// --- GPUs ---------------------------------------------------------------------------------------

double rate(const std::string& gpu, DType d) {
  return cat().gpu(gpu, "t").peak_tflops_for(d);
}

TEST(CatalogGpus, AllRequiredPresetsExist) {
  for (const char* name :
       {"V100-32GB", "A100-40GB", "A100-80GB", "H100-SXM-80GB", "H200-141GB", "B200", "MI300X", "L4"})
    EXPECT_NO_THROW((void)cat().gpu(name, "t")) << name;
}

TEST(CatalogGpus, DatasheetRates) {
  // NVIDIA V100 datasheet (SXM2): 15.7 TFLOPS single precision, 125 TFLOPS tensor; 900 GB/s; 32 GB.
  EXPECT_DOUBLE_EQ(rate("V100-32GB", DType::fp32), 15.7);
  EXPECT_DOUBLE_EQ(rate("V100-32GB", DType::fp16), 125.0);
  EXPECT_DOUBLE_EQ(cat().gpu("V100-32GB", "t").memory_bandwidth_gbytes_s, 900.0);
  // NVIDIA A100 datasheet: FP32 19.5, TF32 156, BF16 312 TFLOPS (dense); 40GB: 1,555 GB/s; 80GB: 2,039 GB/s.
  EXPECT_DOUBLE_EQ(rate("A100-40GB", DType::fp32), 19.5);
  EXPECT_DOUBLE_EQ(rate("A100-80GB", DType::tf32), 156.0);
  EXPECT_DOUBLE_EQ(rate("A100-80GB", DType::bf16), 312.0);
  EXPECT_DOUBLE_EQ(cat().gpu("A100-40GB", "t").memory_bandwidth_gbytes_s, 1555.0);
  EXPECT_DOUBLE_EQ(cat().gpu("A100-80GB", "t").memory_bandwidth_gbytes_s, 2039.0);
  EXPECT_DOUBLE_EQ(cat().gpu("A100-80GB", "t").memory_gib, 80.0);
  // NVIDIA H100 datasheet (SXM): BF16 1,979 and FP8 3,958 TFLOPS with sparsity -> dense is half;
  // 3.35 TB/s; 132 SMs; 700 W.
  EXPECT_NEAR(rate("H100-SXM-80GB", DType::bf16), 1979.0 / 2, 1.0);
  EXPECT_NEAR(rate("H100-SXM-80GB", DType::fp8_e4m3), 3958.0 / 2, 1.0);
  EXPECT_NEAR(rate("H100-SXM-80GB", DType::tf32), 989.0 / 2, 1.0);
  EXPECT_NEAR(rate("H100-SXM-80GB", DType::fp32), 67.0, 0.2);
  EXPECT_DOUBLE_EQ(cat().gpu("H100-SXM-80GB", "t").memory_bandwidth_gbytes_s, 3350.0);
  EXPECT_EQ(cat().gpu("H100-SXM-80GB", "t").sm_count, 132);
  EXPECT_DOUBLE_EQ(cat().gpu("H100-SXM-80GB", "t").tdp_w, 700.0);
  // NVIDIA H200 datasheet: 141 GB HBM3e at 4.8 TB/s, same tensor rates as H100 SXM.
  EXPECT_DOUBLE_EQ(cat().gpu("H200-141GB", "t").memory_gib, 141.0);
  EXPECT_DOUBLE_EQ(cat().gpu("H200-141GB", "t").memory_bandwidth_gbytes_s, 4800.0);
  EXPECT_NEAR(rate("H200-141GB", DType::bf16), 1979.0 / 2, 1.0);
  // NVIDIA HGX B200 specifications, per GPU: FP8 9 PFLOPS and FP16/BF16 4.5 PFLOPS with sparsity;
  // 180 GB; 7.7 TB/s; up to 1,000 W.
  EXPECT_NEAR(rate("B200", DType::fp8_e4m3), 9000.0 / 2, 1.0);
  EXPECT_NEAR(rate("B200", DType::bf16), 4500.0 / 2, 1.0);
  EXPECT_DOUBLE_EQ(cat().gpu("B200", "t").memory_gib, 180.0);
  EXPECT_DOUBLE_EQ(cat().gpu("B200", "t").tdp_w, 1000.0);
  // AMD MI300X datasheet: FP16/BF16 1,307.4, FP8 2,614.9, FP32 163.4 TFLOPS (dense); 192 GB; 5.3 TB/s.
  EXPECT_DOUBLE_EQ(rate("MI300X", DType::bf16), 1307.4);
  EXPECT_DOUBLE_EQ(rate("MI300X", DType::fp8_e4m3), 2614.9);
  EXPECT_DOUBLE_EQ(rate("MI300X", DType::fp32), 163.4);
  EXPECT_DOUBLE_EQ(cat().gpu("MI300X", "t").memory_gib, 192.0);
  EXPECT_DOUBLE_EQ(cat().gpu("MI300X", "t").memory_bandwidth_gbytes_s, 5300.0);
  // NVIDIA L4 datasheet: FP32 30.3, BF16 242 and FP8 485 TFLOPS with sparsity; 24 GB; 300 GB/s; 72 W.
  EXPECT_DOUBLE_EQ(rate("L4", DType::fp32), 30.3);
  EXPECT_NEAR(rate("L4", DType::bf16), 242.0 / 2, 0.5);
  EXPECT_NEAR(rate("L4", DType::fp8_e4m3), 485.0 / 2, 0.5);
  EXPECT_DOUBLE_EQ(cat().gpu("L4", "t").memory_bandwidth_gbytes_s, 300.0);
  EXPECT_DOUBLE_EQ(cat().gpu("L4", "t").tdp_w, 72.0);
}

TEST(CatalogGpus, RatesTheChipLacksAreAbsent) {
  // Volta tensor cores are fp16-only (no tf32, bf16, fp8); Ampere has no fp8.
  for (DType d : {DType::bf16, DType::tf32, DType::fp8_e4m3})
    EXPECT_THROW((void)rate("V100-32GB", d), InputError) << to_string(d);
  EXPECT_THROW((void)rate("A100-40GB", DType::fp8_e4m3), InputError);
  EXPECT_THROW((void)rate("A100-80GB", DType::fp8_e4m3), InputError);
  EXPECT_EQ(cat().gpu("V100-32GB", "t").peak_tflops.size(), 2u);
}

TEST(CatalogGpus, EveryGpuIsComplete) {
  for (const auto& name : cat().gpu_names()) {
    SCOPED_TRACE(name);
    const plan::GpuSpec& g = cat().gpu(name, "t");
    EXPECT_EQ(g.name, name);
    EXPECT_GT(g.memory_gib, 0.0);
    EXPECT_GT(g.memory_bandwidth_gbytes_s, 0.0);
    EXPECT_GT(g.sm_count, 0);
    EXPECT_GT(g.tdp_w, 0.0);
    EXPECT_GT(g.price_usd_per_hour, 0.0);
    EXPECT_GE(g.usable_memory_fraction, 0.9);
    EXPECT_LE(g.usable_memory_fraction, 1.0);
    EXPECT_GE(g.kernel_launch_ns, 3000);
    EXPECT_LE(g.kernel_launch_ns, 5000);
    ASSERT_TRUE(g.peak_tflops.count(DType::fp32));
    // Dense tensor rates exceed the fp32 rate; bf16 equals fp16 where both exist; fp8 doubles bf16
    // on every chip that has it (all datasheets above).
    for (const auto& [d, v] : g.peak_tflops) EXPECT_GE(v, g.peak_tflops.at(DType::fp32)) << to_string(d);
    if (g.peak_tflops.count(DType::bf16) && g.peak_tflops.count(DType::fp16)) {
      EXPECT_DOUBLE_EQ(g.peak_tflops.at(DType::bf16), g.peak_tflops.at(DType::fp16));
    }
    if (g.peak_tflops.count(DType::fp8_e4m3)) {
      EXPECT_NEAR(g.peak_tflops.at(DType::fp8_e4m3), 2 * g.peak_tflops.at(DType::bf16), 1.0);
    }
    for (const char* cls : {"gemm", "attention", "conv", "memory"}) {
      ASSERT_TRUE(g.efficiency.count(cls)) << cls;
      EXPECT_GT(g.efficiency.at(cls).max, 0.3) << cls;
      EXPECT_LE(g.efficiency.at(cls).max, 0.95) << cls;
      EXPECT_GT(g.efficiency.at(cls).half, 0.0) << cls;
    }
    EXPECT_GE(g.efficiency.at("memory").max, 0.75);
    const json& raw = cat().gpu_json(name, "t");
    EXPECT_FALSE(raw.at("source").get<std::string>().empty());
  }
}

// --- links --------------------------------------------------------------------------------------

TEST(CatalogLinks, PerDirectionBandwidths) {
  const char* required[] = {"nvlink3",       "nvlink4",
                            "nvlink5",       "nvswitch-a100",
                            "nvswitch-h100", "nvswitch-b200",
                            "pcie4-x16",     "pcie5-x16",
                            "ib-hdr-200",    "ib-ndr-400",
                            "roce-100g",     "roce-200g",
                            "roce-400g",     "infinity-fabric-mi300x"};
  for (const char* name : required) EXPECT_NO_THROW((void)cat().link(name, "t")) << name;
  // Gbps per direction = GB/s bidirectional / 2 * 8.
  // NVIDIA DGX H100 datasheet: 900 GB/s GPU-to-GPU bidirectional.
  EXPECT_DOUBLE_EQ(cat().link("nvswitch-h100", "t").bandwidth_gbps, 900.0 / 2 * 8);
  EXPECT_DOUBLE_EQ(cat().link("nvlink4", "t").bandwidth_gbps, 900.0 / 2 * 8);
  // NVIDIA A100 datasheet: NVLink 600 GB/s.
  EXPECT_DOUBLE_EQ(cat().link("nvswitch-a100", "t").bandwidth_gbps, 600.0 / 2 * 8);
  // NVIDIA HGX B200: NVLink 5 1.8 TB/s per GPU.
  EXPECT_DOUBLE_EQ(cat().link("nvswitch-b200", "t").bandwidth_gbps, 1800.0 / 2 * 8);
  // InfiniBand NDR: 400 Gb/s per port; HDR: 200 Gb/s.
  EXPECT_DOUBLE_EQ(cat().link("ib-ndr-400", "t").bandwidth_gbps, 400.0);
  EXPECT_DOUBLE_EQ(cat().link("ib-hdr-200", "t").bandwidth_gbps, 200.0);
  // PCIe 5.0 x16: 64 GB/s per direction (H100 datasheet: 128 GB/s bidirectional).
  EXPECT_DOUBLE_EQ(cat().link("pcie5-x16", "t").bandwidth_gbps, 128.0 / 2 * 8);
  // AMD MI300X: 7 links x 128 GB/s bidirectional.
  EXPECT_DOUBLE_EQ(cat().link("infinity-fabric-mi300x", "t").bandwidth_gbps, 7 * 128.0 / 2 * 8);
  for (const auto& name : cat().link_names()) {
    const plan::LinkSpec& l = cat().link(name, "t");
    EXPECT_EQ(l.name, name);
    EXPECT_GT(l.latency_us, 0.0) << name;
    EXPECT_GE(l.efficiency, 0.6) << name;
    EXPECT_LE(l.efficiency, 0.95) << name;
  }
}

TEST(CatalogLinks, GpuDefaultLinksExist) {
  for (const auto& name : cat().gpu_names()) {
    const json& raw = cat().gpu_json(name, "t");
    EXPECT_NO_THROW((void)cat().link(raw.at("default_intra_node").get<std::string>(), "t")) << name;
    EXPECT_NO_THROW((void)cat().link(raw.at("default_host_link").get<std::string>(), "t")) << name;
  }
}

// --- lookups ------------------------------------------------------------------------------------

template <typename F>
InputError input_error(F f) {
  try {
    f();
  } catch (const InputError& e) {
    return e;
  }
  ADD_FAILURE() << "no InputError thrown";
  return InputError("", "", "");
}

TEST(CatalogLookup, UnknownNamesListValidNamesWithDidYouMean) {
  {
    const InputError e = input_error([] { (void)cat().gpu("H100", "cluster.gpu"); });
    EXPECT_EQ(e.json_path(), "cluster.gpu");
    EXPECT_EQ(e.value(), "\"H100\"");
    EXPECT_NE(e.allowed().find("did you mean \"H100-SXM-80GB\""), std::string::npos) << e.what();
    EXPECT_NE(e.allowed().find("\"MI300X\""), std::string::npos) << e.what();
  }
  {
    const InputError e = input_error([] { (void)cat().architecture("llama3-8B", "model.architecture"); });
    EXPECT_NE(e.allowed().find("did you mean \"llama3-8b\""), std::string::npos) << e.what();
  }
  {
    const InputError e = input_error([] { (void)cat().architecture("gpt3-175", "model.architecture"); });
    EXPECT_NE(e.allowed().find("did you mean \"gpt3-175b\""), std::string::npos) << e.what();
  }
  {
    const InputError e = input_error([] { (void)cat().link("ib-ndr400", "cluster.inter_node.link"); });
    EXPECT_EQ(e.json_path(), "cluster.inter_node.link");
    EXPECT_NE(e.allowed().find("did you mean \"ib-ndr-400\""), std::string::npos) << e.what();
  }
  {
    // Several close names: all are offered.
    const InputError e = input_error([] { (void)cat().gpu("A100", "cluster.gpu"); });
    EXPECT_NE(e.allowed().find("\"A100-40GB\" or \"A100-80GB\"?"), std::string::npos) << e.what();
  }
  {
    const InputError e = input_error([] { (void)cat().gpu_json("TPUv5", "cluster.gpu"); });
    EXPECT_EQ(e.allowed().find("did you mean"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cluster.gpu"), std::string::npos);
  }
}

TEST(CatalogLookup, BuiltinIsOneInstanceAcrossThreads) {
  std::vector<const Catalog*> seen(4, nullptr);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back([&seen, i] { seen[i] = &Catalog::builtin(); });
  for (auto& t : threads) t.join();
  for (const Catalog* c : seen) EXPECT_EQ(c, seen.front());
}

// --- strict catalog documents -------------------------------------------------------------------

json minimal_links() {
  return json::parse(R"({"links": {"pcie4-x16": {"source": "s", "note": "n", "bandwidth_gbps": 256,
                      "latency_us": 2.5, "efficiency": 0.8}}})");
}
json minimal_gpus() {
  return json::parse(R"({"gpus": {"G": {"source": "s", "note": "n", "memory_gib": 16,
      "memory_bandwidth_gbytes_s": 500, "peak_tflops": {"fp32": 10, "fp16": 80}, "sm_count": 10, "tdp_w": 100,
      "price_usd_per_hour": 1, "usable_memory_fraction": 0.95, "kernel_launch_ns": 4000,
      "default_intra_node": "pcie4-x16", "default_host_link": "pcie4-x16",
      "efficiency": {"gemm": {"max": 0.7, "half": 1e8}, "attention": {"max": 0.5, "half": 1e8},
                     "conv": {"max": 0.5, "half": 1e8}, "memory": {"max": 0.8, "half": 1e5}}}}})");
}
json minimal_archs() {
  return json::parse(R"({"architectures": {"m": {"family": "mlp", "source": "s", "description": "d",
                      "published_parameters": 32, "dims": [3, 5, 2]}}})");
}

TEST(CatalogDocuments, MinimalDocumentsParse) {
  const Catalog c = Catalog::from_json(minimal_gpus(), minimal_links(), minimal_archs());
  EXPECT_EQ(c.gpu_names(), std::vector<std::string>{"G"});
  EXPECT_EQ(parameter_count(c.architecture("m", "t")), 32);
}

struct BadDocument {
  const char* what;
  const char* file;     // "gpus", "links" or "architectures"
  const char* pointer;  // JSON pointer to change
  json value;           // new value; null removes the key
  const char* path;     // expected json_path()
  const char* hint;     // expected in the message
};

TEST(CatalogDocuments, BadEntriesNameTheirPath) {
  const std::vector<BadDocument> cases = {
      {"missing source", "gpus", "/gpus/G/source", nullptr, "gpus.G.source", "citation"},
      {"empty source", "links", "/links/pcie4-x16/source", "", "links.pcie4-x16.source", "citation"},
      {"misspelt key", "gpus", "/gpus/G/memroy_gib", 16, "gpus.G.memroy_gib", "did you mean \"memory_gib\""},
      {"string for number", "gpus", "/gpus/G/memory_gib", "16", "gpus.G.memory_gib", "> 0"},
      {"negative bandwidth", "links", "/links/pcie4-x16/bandwidth_gbps", -1, "links.pcie4-x16.bandwidth_gbps", "> 0"},
      {"efficiency above one", "links", "/links/pcie4-x16/efficiency", 1.5, "links.pcie4-x16.efficiency", "<= 1"},
      {"unknown rate", "gpus", "/gpus/G/peak_tflops/int8", 100, "gpus.G.peak_tflops.int8", "known keys"},
      {"no fp32 rate", "gpus", "/gpus/G/peak_tflops/fp32", nullptr, "gpus.G.peak_tflops.fp32", "fp32"},
      {"curve max zero", "gpus", "/gpus/G/efficiency/gemm/max", 0, "gpus.G.efficiency.gemm.max", "> 0"},
      {"missing curve", "gpus", "/gpus/G/efficiency/conv", nullptr, "gpus.G.efficiency.conv", "explicitly"},
      {"unknown default link", "gpus", "/gpus/G/default_host_link", "pcie9", "gpus.G.default_host_link", "pcie4-x16"},
      {"explicit name", "gpus", "/gpus/G/name", "G", "gpus.G.name", "key is its name"},
      {"bad family", "architectures", "/architectures/m/family", "cnn", "architectures.m.family", "\"resnet\""},
      {"short dims", "architectures", "/architectures/m/dims", json::array({3}), "architectures.m.dims", "array of 2"},
      {"transformer key on mlp", "architectures", "/architectures/m/layers", 2, "architectures.m.layers",
       "unknown key"},
      {"missing description", "architectures", "/architectures/m/description", nullptr, "architectures.m.description",
       "explicitly"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    json gpus = minimal_gpus(), links = minimal_links(), archs = minimal_archs();
    json& doc = std::string(c.file) == "gpus" ? gpus : std::string(c.file) == "links" ? links : archs;
    const json::json_pointer ptr(c.pointer);
    if (c.value.is_null()) {
      doc.at(ptr.parent_pointer()).erase(ptr.back());
    } else {
      doc[ptr] = c.value;
    }
    const InputError e = input_error([&] { (void)Catalog::from_json(gpus, links, archs); });
    EXPECT_EQ(e.json_path(), c.path) << e.what();
    EXPECT_NE(std::string(e.what()).find(c.hint), std::string::npos) << e.what();
  }
}

TEST(CatalogDocuments, BadTransformerShapes) {
  json archs = json::parse(R"({"architectures": {"t": {"family": "gpt", "source": "s", "description": "d",
      "published_parameters": 1, "layers": 2, "hidden": 100, "heads": 3, "vocab": 10, "max_seq": 8}}})");
  InputError e = input_error([&] { (void)Catalog::from_json(minimal_gpus(), minimal_links(), archs); });
  EXPECT_EQ(e.json_path(), "architectures.t.heads");
  EXPECT_NE(e.allowed().find("divisor of hidden (100)"), std::string::npos) << e.what();
  archs["architectures"]["t"]["heads"] = 4;
  archs["architectures"]["t"]["kv_heads"] = 3;
  e = input_error([&] { (void)Catalog::from_json(minimal_gpus(), minimal_links(), archs); });
  EXPECT_EQ(e.json_path(), "architectures.t.kv_heads");
  EXPECT_NE(e.allowed().find("divisor of heads (4)"), std::string::npos) << e.what();
}

TEST(CatalogDocuments, NotADocument) {
  const InputError e = input_error([] { (void)Catalog::from_json(json::array(), minimal_links(), minimal_archs()); });
  EXPECT_EQ(e.json_path(), "gpus");
}

}  // namespace
}  // namespace clustersim::models
