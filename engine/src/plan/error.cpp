// Message formatting for InputError: "<path>: got <value>; allowed: <allowed>".
#include "clustersim/plan/error.hpp"

namespace clustersim {

namespace {
std::string input_error_message(const std::string& path, const std::string& value, const std::string& allowed) {
  std::string msg = path.empty() ? std::string("input") : path;
  msg += ": got " + (value.empty() ? std::string("nothing") : value);
  if (!allowed.empty()) msg += "; allowed: " + allowed;
  return msg;
}
}  // namespace

InputError::InputError(std::string json_path, std::string value, std::string allowed)
    : Error(input_error_message(json_path, value, allowed)),
      json_path_(std::move(json_path)),
      value_(std::move(value)),
      allowed_(std::move(allowed)) {}

}  // namespace clustersim
