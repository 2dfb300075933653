// Entry point of the catface addon: registers the tensor handle, the op dispatcher and runtime controls.
#include "common.h"

#include <ATen/Parallel.h>

#include <cstdlib>
#include <thread>

namespace catface {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // libtorch starts with one intra-op thread here; use every core unless CATFACE_THREADS says otherwise.
  const char* requested = std::getenv("CATFACE_THREADS");
  int threads = requested ? std::atoi(requested) : 0;
  if (threads < 1) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(threads);

  exports.Set("TensorHandle", TensorHandle::Define(env));
  exports.Set("setTensorClass", Napi::Function::New(env, TensorHandle::SetTensorClass, "setTensorClass"));
  exports.Set("externalBytes", Napi::Function::New(env, TensorHandle::ExternalBytes, "externalBytes"));
  InitDispatch(env, exports);
  InitRuntime(env, exports);
  return exports;
}

}  // namespace catface

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return catface::Init(env, exports); }

NODE_API_MODULE(catface_addon, InitAddon)
