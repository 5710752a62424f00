// Run-directory record files and the fatal-signal recorder.
#include "run_dir.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "clustersim/plan/error.hpp"

namespace clustersim::executor::detail {

namespace {

volatile sig_atomic_t g_signal_fd = -1;

extern "C" void record_fatal_signal(int sig) {
  const int fd = g_signal_fd;
  if (fd >= 0) {
    char buf[64] = "\n{\"type\":\"signal\",\"signal\":";
    std::size_t n = std::strlen(buf);
    char digits[12];
    int d = 0, v = sig;
    do {
      digits[d++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v > 0 && d < 11);
    while (d > 0) buf[n++] = digits[--d];
    buf[n++] = '}';
    buf[n++] = '\n';
    ssize_t ignored = ::write(fd, buf, n);
    (void)ignored;
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void install_signal_recorder(int fd) {
  g_signal_fd = fd;
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = record_fatal_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;
  for (int sig : {SIGTERM, SIGINT, SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL}) ::sigaction(sig, &sa, nullptr);
}

}  // namespace

RunDirWriter::RunDirWriter(const std::string& run_dir, std::int32_t rank, bool record_signals)
    : rank_(rank), signals_(record_signals) {
  std::error_code ec;
  std::filesystem::create_directories(run_dir, ec);
  const std::string path = rank_record_path(run_dir, rank);
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw InputError("run_dir", "\"" + run_dir + "\"",
                     std::string("a writable directory (") + std::strerror(errno) + ")");
  if (signals_) install_signal_recorder(fd_);
}

RunDirWriter::~RunDirWriter() {
  if (signals_ && g_signal_fd == fd_) g_signal_fd = -1;
  if (fd_ >= 0) ::close(fd_);
}

void RunDirWriter::line(const nlohmann::json& j) {
  const std::string text = j.dump() + "\n";
  std::size_t off = 0;
  while (off < text.size()) {
    const ssize_t n = ::write(fd_, text.data() + off, text.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // best effort: the run goes on without its record file
    }
    off += static_cast<std::size_t>(n);
  }
}

void RunDirWriter::begin(std::int32_t program, std::int32_t world_size) {
  line({{"type", "begin"},
        {"rank", rank_},
        {"program", program},
        {"world_size", world_size},
        {"host", host_name()},
        {"pid", static_cast<std::int64_t>(::getpid())}});
}

void RunDirWriter::step(const StepRecord& s) {
  nlohmann::json j = to_json(s);
  j["type"] = "step";
  line(j);
}

void RunDirWriter::error(const std::string& message) {
  line({{"type", "error"}, {"message", message}});
}

void RunDirWriter::end(const RankRecord& r) {
  line({{"type", "end"},
        {"resident_bytes", r.resident_bytes},
        {"resident_peak_bytes", r.resident_peak_bytes},
        {"persistent_bytes", r.persistent_bytes}});
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

std::int64_t host_memory_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  std::int64_t kib = 0;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    ss >> key >> kib;
    if (key == "MemTotal:") return kib * 1024;
  }
  return 0;
}

}  // namespace clustersim::executor::detail
