// Entry point of the catface addon: one AddonState per JS environment, then the tensor table, the op
// dispatcher, runtime controls and the c10d binding (stores, process groups, the gradient reducer).
#include "common.h"
#include "dist-async.h"
#include "dist-reducer.h"

#include <ATen/Parallel.h>

#include <cstdlib>
#include <malloc.h>
#include <thread>

namespace catface {

AddonState& State(napi_env env) {
  void* data = nullptr;
  napi_get_instance_data(env, &data);
  return *static_cast<AddonState*>(data);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // libtorch starts with one intra-op thread here; use every core unless CATFACE_THREADS says otherwise.
  // OpenMP keeps this setting per thread, so each environment (worker thread) sets it for itself.
  const char* requested = std::getenv("CATFACE_THREADS");
  int threads = requested ? std::atoi(requested) : 0;
  if (threads < 1) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(threads);

#ifdef __GLIBC__
  // libtorch mallocs every tensor, and glibc gives blocks over 128 KiB back to the OS when they are freed
  // (munmap, heap trimming): each op of a forward pass then page-faults its output in again, which measured
  // as more system than user CPU time on BlazeFace. Keep freed memory for reuse instead (blocks up to 32 MiB
  // from the heap, up to 512 MiB of free heap top kept), unless the user tunes malloc (GLIBC_TUNABLES).
  if (!std::getenv("GLIBC_TUNABLES")) {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
  }
#endif

  // Freed with the environment: the tensors a worker thread still holds when it exits go with it.
  auto* state = new AddonState();
  NAPI_THROW_IF_FAILED(env,
                       napi_set_instance_data(
                           env, state, [](napi_env, void* data, void*) { delete static_cast<AddonState*>(data); },
                           nullptr),
                       exports);
  Napi::Symbol key = Napi::Symbol::New(env, "catface.tensor");
  NAPI_THROW_IF_FAILED(env, napi_create_reference(env, key, 1, &state->handle_key), exports);
  exports.Set("handleKey", key);

  InitTensor(env, exports);
  InitDispatch(env, exports);
  InitRuntime(env, exports);
  InitDistStore(env, exports);
  InitDistGroup(env, exports);
  InitDistReducer(env, exports);
  return exports;
}

}  // namespace catface

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return catface::Init(env, exports); }

NODE_API_MODULE(catface_addon, InitAddon)
