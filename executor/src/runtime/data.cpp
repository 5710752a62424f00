// Data sources for io ops: the seeded synthetic corpus (Markov-chain tokens, Gaussian-mixture
// examples) and byte tokens from a text file. Every value is a pure function of the sample index.
#include "clustersim/executor/data.hpp"

#include <fstream>
#include <iterator>
#include <vector>

#include "clustersim/executor/rng.hpp"
#include "clustersim/plan/error.hpp"

namespace clustersim::executor {

namespace {

constexpr std::uint64_t kTokenStart = 1, kTokenStep = 2, kSuccessor = 3, kClass = 4, kPrototype = 5, kNoise = 6;

class SyntheticData final : public DataSource {
 public:
  explicit SyntheticData(std::uint64_t seed) : seed_(seed) {}
  std::string describe() const override { return "synthetic (seed " + std::to_string(seed_) + ")"; }
  std::int64_t min_vocab() const override { return 0; }

  void tokens(std::int64_t first, std::int64_t samples, std::int64_t seq, std::int64_t vocab, std::int32_t* tokens,
              std::int32_t* targets) const override {
    require(vocab >= 1, "synthetic tokens need a vocabulary");
    const std::uint64_t start_key = derive_key(seed_, kTokenStart), step_key = derive_key(seed_, kTokenStep);
    const std::uint64_t succ_key = derive_key(seed_, kSuccessor);
    const auto v = static_cast<std::uint64_t>(vocab);
    for (std::int64_t s = 0; s < samples; ++s) {
      const auto sample = static_cast<std::uint64_t>(first + s);
      std::uint64_t tok = philox_at(start_key, sample)[0] % v;
      for (std::int64_t t = 0; t <= seq; ++t) {
        if (t < seq && tokens != nullptr) tokens[s * seq + t] = static_cast<std::int32_t>(tok);
        if (t > 0 && targets != nullptr) targets[s * seq + t - 1] = static_cast<std::int32_t>(tok);
        // next token: successor k of `tok` with probability 0.6, 0.25, 0.1, 0.05
        const float u =
            uniform01(step_key, sample * static_cast<std::uint64_t>(seq + 1) + static_cast<std::uint64_t>(t));
        const std::uint32_t k = u < 0.6f ? 0 : u < 0.85f ? 1 : u < 0.95f ? 2 : 3;
        tok = philox_at(succ_key, tok)[k] % v;
      }
    }
  }

  void examples(std::int64_t first, std::int64_t samples, std::int64_t features, std::int64_t classes, float* x,
                std::int32_t* labels) const override {
    require(classes >= 1, "synthetic examples need classes");
    const std::uint64_t class_key = derive_key(seed_, kClass), proto_key = derive_key(seed_, kPrototype),
                        noise_key = derive_key(seed_, kNoise);
    for (std::int64_t s = 0; s < samples; ++s) {
      const auto sample = static_cast<std::uint64_t>(first + s);
      const std::uint64_t c = philox_at(class_key, sample)[0] % static_cast<std::uint64_t>(classes);
      if (labels != nullptr) labels[s] = static_cast<std::int32_t>(c);
      if (x == nullptr) continue;
      for (std::int64_t f = 0; f < features; ++f) {
        const double proto =
            normal01(proto_key, c * static_cast<std::uint64_t>(features) + static_cast<std::uint64_t>(f));
        const double noise =
            normal01(noise_key, sample * static_cast<std::uint64_t>(features) + static_cast<std::uint64_t>(f));
        x[s * features + f] = static_cast<float>(proto + noise);
      }
    }
  }

 private:
  std::uint64_t seed_;
};

class TextFileData final : public DataSource {
 public:
  explicit TextFileData(const std::string& path) : path_(path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError("data.file", "\"" + path + "\"", "a readable file");
    bytes_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (bytes_.size() < 2) throw InputError("data.file", "\"" + path + "\"", "a file of at least 2 bytes");
  }
  std::string describe() const override {
    return "text file " + path_ + " (" + std::to_string(bytes_.size()) + " bytes, byte tokens)";
  }
  std::int64_t min_vocab() const override { return 256; }

  void tokens(std::int64_t first, std::int64_t samples, std::int64_t seq, std::int64_t vocab, std::int32_t* tokens,
              std::int32_t* targets) const override {
    if (vocab < 256)
      throw InputError("data.file", "vocabulary " + std::to_string(vocab),
                       "a model vocabulary of at least 256 for byte tokens");
    const auto n = static_cast<std::int64_t>(bytes_.size());
    for (std::int64_t s = 0; s < samples; ++s) {
      const std::int64_t offset = ((first + s) * seq) % n;
      for (std::int64_t t = 0; t < seq; ++t) {
        if (tokens != nullptr)
          tokens[s * seq + t] = static_cast<unsigned char>(bytes_[static_cast<std::size_t>((offset + t) % n)]);
        if (targets != nullptr)
          targets[s * seq + t] = static_cast<unsigned char>(bytes_[static_cast<std::size_t>((offset + t + 1) % n)]);
      }
    }
  }

  void examples(std::int64_t, std::int64_t, std::int64_t, std::int64_t, float*, std::int32_t*) const override {
    throw InputError("data.file", "\"" + path_ + "\"",
                     "token data only: features, images and labels need the synthetic source");
  }

 private:
  std::string path_;
  std::vector<char> bytes_;
};

}  // namespace

std::shared_ptr<const DataSource> make_synthetic_data(std::uint64_t seed) {
  return std::make_shared<SyntheticData>(seed);
}

std::shared_ptr<const DataSource> make_text_file_data(const std::string& path) {
  return std::make_shared<TextFileData>(path);
}

}  // namespace clustersim::executor
