// Result<T>: a value or an error message, for operations that can fail for
// reasons outside the program (files, the kernel, configuration).
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace raqib {

struct Error {
  std::string message;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  explicit operator bool() const { return v_.index() == 0; }
  T &operator*() { return std::get<0>(v_); }
  const T &operator*() const { return std::get<0>(v_); }
  T *operator->() { return &std::get<0>(v_); }
  const T *operator->() const { return &std::get<0>(v_); }
  const std::string &error() const { return std::get<1>(v_).message; }

 private:
  std::variant<T, Error> v_;
};

// The outcome of an operation with no value.
struct Ok {};
using Status = Result<Ok>;

}  // namespace raqib
