// The one-member communicator (world size 1, or a group kind the rank is not part of): collectives
// reduce over a single member, so they are copies; point-to-point to oneself goes through a mailbox.
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>

#include "clustersim/executor/communicator.hpp"
#include "clustersim/plan/error.hpp"

namespace clustersim::executor {

namespace {

void copy_if_distinct(void* out, const void* in, std::size_t bytes) {
  if (out != in && bytes > 0) std::memmove(out, in, bytes);
}

class SelfCommunicator final : public Communicator {
 public:
  explicit SelfCommunicator(std::string description) : description_(std::move(description)) {}
  int size() const override { return 1; }
  int index() const override { return 0; }
  std::string describe() const override { return description_; }
  void all_reduce(void*, std::int64_t, DType, ReduceKind) override {}
  void reduce_scatter(const void* in, void* out, std::int64_t count, DType dtype, ReduceKind) override {
    copy_if_distinct(out, in, static_cast<std::size_t>(count * dtype_bytes(dtype)));
  }
  void all_gather(const void* in, void* out, std::int64_t count, DType dtype) override {
    copy_if_distinct(out, in, static_cast<std::size_t>(count * dtype_bytes(dtype)));
  }
  void broadcast(void*, std::int64_t, DType, int root) override { check_root(root); }
  void reduce(void*, std::int64_t, DType, ReduceKind, int root) override { check_root(root); }
  void all_to_all(const void* in, void* out, std::int64_t count, DType dtype) override {
    copy_if_distinct(out, in, static_cast<std::size_t>(count * dtype_bytes(dtype)));
  }
  void send(const void* buf, std::int64_t bytes, int peer, int tag) override {
    check_root(peer);
    std::lock_guard lock(mu_);
    const auto* p = static_cast<const std::byte*>(buf);
    mailbox_[tag].emplace_back(p, p + bytes);
    cv_.notify_all();
  }
  void recv(void* buf, std::int64_t bytes, int peer, int tag) override {
    check_root(peer);
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !mailbox_[tag].empty(); });
    auto msg = std::move(mailbox_[tag].front());
    mailbox_[tag].pop_front();
    require(static_cast<std::int64_t>(msg.size()) == bytes,
            "self recv of " + std::to_string(bytes) + " bytes matched a send of " + std::to_string(msg.size()));
    if (bytes > 0) std::memcpy(buf, msg.data(), msg.size());
  }
  void barrier() override {}
  void all_reduce_f64(double*, std::int64_t, ReduceKind) override {}
  std::vector<std::string> gather_strings(const std::string& mine, int root) override {
    check_root(root);
    return {mine};
  }

 private:
  static void check_root(int r) { require(r == 0, "peer or root " + std::to_string(r) + " in a one-member group"); }
  std::string description_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<int, std::deque<std::vector<std::byte>>> mailbox_;
};

class LocalFactory final : public CommunicatorFactory {
 public:
  int world_rank() const override { return 0; }
  int world_size() const override { return 1; }
  std::string backend() const override { return "local"; }
  std::unique_ptr<Communicator> create(GroupKind kind, const plan::Group* group, int index) override {
    require(index == 0, "a single-process run has only index 0");
    require(group == nullptr || group->ranks.size() == 1, "a single-process run cannot join a multi-rank group");
    return make_self_communicator(std::string(to_string(kind)) + (group ? " group " + std::to_string(group->id) : ""));
  }
  Communicator& world() override { return world_; }

 private:
  SelfCommunicator world_{"world"};
};

}  // namespace

std::unique_ptr<Communicator> make_self_communicator(std::string description) {
  return std::make_unique<SelfCommunicator>(std::move(description));
}

std::unique_ptr<CommunicatorFactory> make_local_communicators() {
  return std::make_unique<LocalFactory>();
}

}  // namespace clustersim::executor
