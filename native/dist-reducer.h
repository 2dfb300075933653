// Gradient averaging overlapped with backward (native/dist-reducer.cc), on a process group of dist-group.cc.
#pragma once

#include "common.h"

#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>

namespace catface {

// The c10d group behind a JS process group value (defined in dist-group.cc); throws `what: …` when it is not one
// or was destroyed.
c10::intrusive_ptr<c10d::ProcessGroup> ProcessGroupOf(Napi::Env env, const Napi::Value& v, const std::string& what);

void InitDistReducer(Napi::Env env, Napi::Object exports);

}  // namespace catface
