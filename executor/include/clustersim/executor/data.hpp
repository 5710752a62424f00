// Training data for the executor's io ops. A DataSource answers for global sample indices, so every
// data-parallel rank reads its own slice and every step new samples, deterministically:
//   * synthetic (default): a learnable corpus from the run seed. Tokens follow a fixed random Markov
//     chain over the vocabulary (each token has 4 successors with probabilities 0.6/0.25/0.1/0.05,
//     so the best achievable loss is about 1.03 nats, far below ln V). Features/images are a
//     Gaussian mixture: one random prototype per class plus unit noise; labels are the classes.
//   * text file: bytes of a user file as tokens (vocabulary 256); sample i reads T+1 bytes from
//     offset i*T (wrapping), targets are the next bytes. Features/labels are not available.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace clustersim::executor {

class DataSource {
 public:
  virtual ~DataSource() = default;
  virtual std::string describe() const = 0;
  // Smallest vocabulary the source's tokens need (0 = adapts to any).
  virtual std::int64_t min_vocab() const = 0;
  // tokens/targets (samples x seq, natural order) of samples [first_sample, first_sample + samples):
  // targets[t] = token t+1 of the sample. Either pointer may be null.
  virtual void tokens(std::int64_t first_sample, std::int64_t samples, std::int64_t seq, std::int64_t vocab,
                      std::int32_t* tokens, std::int32_t* targets) const = 0;
  // features (samples x features) and labels (samples) in [0, classes). Either pointer may be null.
  virtual void examples(std::int64_t first_sample, std::int64_t samples, std::int64_t features, std::int64_t classes,
                        float* x, std::int32_t* labels) const = 0;
};

std::shared_ptr<const DataSource> make_synthetic_data(std::uint64_t seed);
// Reads the whole file; InputError when it cannot be read or is shorter than 2 bytes.
std::shared_ptr<const DataSource> make_text_file_data(const std::string& path);

}  // namespace clustersim::executor
