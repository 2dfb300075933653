// Stand-in for libtorch's dist-autograd context header, which c10d/reducer.hpp includes but Debian's
// libtorch-dev 1.13.1 does not ship. reducer.hpp needs only these two names (a static_assert on GradCallback and
// a shared_ptr member); the real definitions live inside libtorch_cpu.so, and neither changes the Reducer's
// layout (a shared_ptr and a pointer are the same size whatever they point to). catface uses no RPC autograd.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>

namespace torch {
namespace distributed {
namespace autograd {

class DistAutogradContext {
 public:
  using GradCallback = std::function<bool(at::Tensor&)>;
};

using ContextPtr = std::shared_ptr<DistAutogradContext>;

}  // namespace autograd
}  // namespace distributed
}  // namespace torch
