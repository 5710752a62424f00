// Error types shared by every layer. Library code throws these; only `main` (CLI, GUI) turns them
// into exit codes or messages: InputError -> exit 2, CheckFailed -> exit 1, anything else -> exit 3.
#pragma once

#include <stdexcept>
#include <string>

namespace clustersim {

// Any clustersim failure. `what()` is a complete sentence a user can act on.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bad user input: a scenario, a --set override, a catalog entry, a profile, a trace file.
// Carries the JSON path (e.g. "training.micro_batch"), the offending value as text and what is allowed.
class InputError : public Error {
 public:
  InputError(std::string json_path, std::string value, std::string allowed);
  const std::string& json_path() const { return json_path_; }
  const std::string& value() const { return value_; }
  const std::string& allowed() const { return allowed_; }

 private:
  std::string json_path_, value_, allowed_;
};

// A check the user asked for did not pass (validation beyond tolerance, out of memory when --require-fit).
class CheckFailed : public Error {
 public:
  using Error::Error;
};

// An internal invariant was broken: a bug in clustersim, never the user's fault.
class InternalError : public Error {
 public:
  using Error::Error;
};

// Throws InternalError with the message when `condition` is false. For invariants, not for input.
inline void require(bool condition, const std::string& message) {
  if (!condition) throw InternalError("internal error: " + message);
}
// The same for a literal message: nothing is built unless the check fails (hot paths call this).
inline void require(bool condition, const char* message) {
  if (!condition) [[unlikely]]
    throw InternalError("internal error: " + std::string(message));
}

}  // namespace clustersim
