// The store behind a JS store value (an External made by dist-store.cc), for the process groups.
#pragma once

#include "common.h"

#include <torch/csrc/distributed/c10d/Store.hpp>

namespace catface {

c10::intrusive_ptr<c10d::Store> GetStore(Napi::Env env, const Napi::Value& v, const std::string& what);

}  // namespace catface
