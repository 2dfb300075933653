// Shared declarations of the catface addon: the per-environment tensor table and value conversions.
#pragma once

#include <napi.h>
#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace catface {

struct Op;  // an ATen operator with its converted schema (dispatch.cc)

// Everything the addon keeps lives here, once per JS environment (main thread, each worker thread), so the
// addon loads in several threads at once and each one's tensors and accounting are freed when it exits.
//
// JS tensors hold an index into `slots` (under the `handleKey` symbol): creating one costs no native object and
// no V8 finalizer, `release` frees it at once and the slot is reused.
struct AddonState {
  struct Slot {
    at::Tensor tensor;
    const void* storage = nullptr;  // the storage this slot counts in V8's external memory
  };
  struct StorageAccount {
    int64_t handles;
    int64_t bytes;
  };

  std::vector<Slot> slots;
  std::vector<int32_t> free_slots;
  // V8 is told about each storage once, however many handles (views, in-place results, grads) share it, so
  // external memory equals what JS keeps alive and in-place ops cost no accounting.
  std::unordered_map<const void*, StorageAccount> storages;
  int64_t accounted = 0;  // the sum over `storages`, what V8 was told
  std::vector<std::shared_ptr<const Op>> ops;
  napi_ref handle_key = nullptr;  // the Symbol under which a JS Tensor keeps its slot index
};

AddonState& State(napi_env env);

// Why a JS value is not a usable tensor.
enum class TensorLookup { Ok, NotATensor, Disposed };

// The tensor behind a JS Tensor (its slot), or null with the reason in `why`. No strings are built here: the
// callers make the error message only when it fails.
const at::Tensor* LookupTensor(napi_env env, AddonState& state, napi_value v, TensorLookup* why);
// The same, throwing a JS error that starts with `what` (": expected a Tensor" / ": the Tensor was disposed").
const at::Tensor& GetTensor(Napi::Env env, Napi::Value v, const std::string& what);
// The tensor in slot `handle` (a JS number); throws "<what>: the Tensor was disposed" when it is not live.
const at::Tensor& SlotTensor(Napi::Env env, AddonState& state, Napi::Value handle, const char* what);
// Takes `t` into a free slot and returns its index as a JS number (undefined tensors give null).
napi_value NewHandle(napi_env env, AddonState& state, at::Tensor t);

void InitTensor(Napi::Env env, Napi::Object exports);
void InitDispatch(Napi::Env env, Napi::Object exports);
void InitRuntime(Napi::Env env, Napi::Object exports);

// dtype names used by the TypeScript API.
at::ScalarType ParseScalarType(Napi::Env env, const Napi::Value& v, const std::string& what);
const char* ScalarTypeName(at::ScalarType t);
at::Device ParseDevice(Napi::Env env, const Napi::Value& v, const std::string& what);

// "float32[32,3,64,64]" — used in error messages.
std::string Describe(const at::Tensor& t);

// A JS number as an int64 when it is an integer in int64's range (NaN, fractions and overflow give false).
inline bool ToInt64(double d, int64_t* out) {
  if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || d != static_cast<double>(static_cast<int64_t>(d)))
    return false;
  *out = static_cast<int64_t>(d);
  return true;
}

// Runs `fn`, turning libtorch and std exceptions into JS errors prefixed by `context`.
template <typename Fn>
auto Guarded(Napi::Env env, const std::string& context, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, context + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, context + ": " + e.what());
  }
}

}  // namespace catface
