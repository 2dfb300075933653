// Shared declarations of the catface addon: the JS-visible tensor handle and value conversions.
#pragma once

#include <napi.h>
#include <ATen/ATen.h>

#include <string>

namespace catface {

// A JS object owning one reference to an at::Tensor. The TypeScript `Tensor` class extends it; the
// addon creates new instances through that subclass (registered once with `setTensorClass`).
class TensorHandle : public Napi::ObjectWrap<TensorHandle> {
 public:
  static Napi::Function Define(Napi::Env env);
  static Napi::Value SetTensorClass(const Napi::CallbackInfo& info);
  static Napi::Value ExternalBytes(const Napi::CallbackInfo& info);
  // Wraps `t` in a new JS Tensor (undefined tensors become null).
  static Napi::Value Wrap(Napi::Env env, at::Tensor t);
  // The tensor behind a JS value; throws a JS TypeError naming `what` when it is not a live Tensor.
  static const at::Tensor& Get(Napi::Env env, Napi::Value v, const std::string& what);
  static bool Is(Napi::Value v);

  explicit TensorHandle(const Napi::CallbackInfo& info);
  ~TensorHandle() override;

  at::Tensor tensor;

 private:
  void Release(Napi::Env env);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value IsDisposed(const Napi::CallbackInfo& info);
  Napi::Value Sizes(const Napi::CallbackInfo& info);
  Napi::Value Strides(const Napi::CallbackInfo& info);
  Napi::Value ScalarTypeName(const Napi::CallbackInfo& info);
  Napi::Value DeviceName(const Napi::CallbackInfo& info);
  Napi::Value Numel(const Napi::CallbackInfo& info);
  Napi::Value Dim(const Napi::CallbackInfo& info);
  Napi::Value RequiresGrad(const Napi::CallbackInfo& info);
  Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info);
  Napi::Value Grad(const Napi::CallbackInfo& info);
  Napi::Value SetGrad(const Napi::CallbackInfo& info);
  Napi::Value IsLeaf(const Napi::CallbackInfo& info);
  Napi::Value GradFnName(const Napi::CallbackInfo& info);
  Napi::Value RetainGrad(const Napi::CallbackInfo& info);
  Napi::Value Backward(const Napi::CallbackInfo& info);
  Napi::Value Item(const Napi::CallbackInfo& info);
  Napi::Value ToBytes(const Napi::CallbackInfo& info);
  Napi::Value CopyFromBytes(const Napi::CallbackInfo& info);
  Napi::Value IsContiguous(const Napi::CallbackInfo& info);
  Napi::Value SameStorage(const Napi::CallbackInfo& info);
  Napi::Value Version(const Napi::CallbackInfo& info);

  const void* storage_ = nullptr;  // the storage this handle counts in V8's external memory
};

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

void InitDispatch(Napi::Env env, Napi::Object exports);
void InitRuntime(Napi::Env env, Napi::Object exports);

}  // namespace catface
