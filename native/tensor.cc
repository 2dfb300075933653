// The JS tensor handle: ownership, metadata, autograd entry points and byte transfer.
#include "common.h"

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/variable.h>

#include <cstring>
#include <sstream>
#include <unordered_map>

namespace catface {

namespace {
Napi::FunctionReference* g_tensor_class = nullptr;
at::Tensor* g_pending = nullptr;  // the tensor the next constructed handle takes over

// Marks JS objects that are tensor handles: a cheaper and safer test than `instanceof` (objects wrapped by
// other addons are never mistaken for ours).
constexpr napi_type_tag kTensorTag = {0x6361746661636531ULL, 0x74656e736f720001ULL};

// V8 is told about each storage once, however many handles (views, in-place results, grads) share it, so
// external memory equals what JS keeps alive and in-place ops cost no accounting.
struct StorageAccount {
  int64_t handles;
  int64_t bytes;
};
std::unordered_map<const void*, StorageAccount> g_storages;
int64_t g_accounted = 0;  // the sum over g_storages, what V8 was told

const void* AccountStorage(Napi::Env env, const at::Tensor& t) {
  if (!t.defined() || !t.has_storage()) return nullptr;
  const void* key = t.storage().unsafeGetStorageImpl();
  auto [it, inserted] = g_storages.try_emplace(key, StorageAccount{0, static_cast<int64_t>(t.storage().nbytes())});
  if (it->second.handles++ == 0 && it->second.bytes) {
    Napi::MemoryManagement::AdjustExternalMemory(env, it->second.bytes);
    g_accounted += it->second.bytes;
  }
  return key;
}

void ReleaseStorage(Napi::Env env, const void* key) {
  if (!key) return;
  auto it = g_storages.find(key);
  if (it == g_storages.end() || --it->second.handles > 0) return;
  if (it->second.bytes) Napi::MemoryManagement::AdjustExternalMemory(env, -it->second.bytes);
  g_accounted -= it->second.bytes;
  g_storages.erase(it);
}
}  // namespace

const char* ScalarTypeName(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    case at::kLong: return "int64";
    case at::kInt: return "int32";
    case at::kShort: return "int16";
    case at::kChar: return "int8";
    case at::kByte: return "uint8";
    case at::kBool: return "bool";
    case at::kComplexFloat: return "complex64";
    case at::kComplexDouble: return "complex128";
    default: return "unsupported";
  }
}

at::ScalarType ParseScalarType(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (v.IsString()) {
    const std::string s = v.As<Napi::String>();
    static const std::pair<const char*, at::ScalarType> kTypes[] = {
        {"float32", at::kFloat}, {"float64", at::kDouble},     {"float16", at::kHalf},
        {"bfloat16", at::kBFloat16}, {"int64", at::kLong},     {"int32", at::kInt},
        {"int16", at::kShort},   {"int8", at::kChar},          {"uint8", at::kByte},
        {"bool", at::kBool},     {"complex64", at::kComplexFloat}, {"complex128", at::kComplexDouble}};
    for (const auto& [name, type] : kTypes)
      if (s == name) return type;
    throw Napi::TypeError::New(env, what + ": unknown dtype '" + s + "'");
  }
  throw Napi::TypeError::New(env, what + ": dtype must be a string such as 'float32'");
}

at::Device ParseDevice(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (!v.IsString()) throw Napi::TypeError::New(env, what + ": device must be a string such as 'cpu' or 'cuda:0'");
  const std::string s = v.As<Napi::String>();
  return Guarded(env, what, [&] { return at::Device(s); });
}

std::string Describe(const at::Tensor& t) {
  if (!t.defined()) return "undefined";
  std::ostringstream out;
  out << ScalarTypeName(t.scalar_type()) << "[";
  for (int64_t i = 0; i < t.dim(); ++i) out << (i ? "," : "") << t.size(i);
  out << "]";
  if (!t.device().is_cpu()) out << "@" << t.device().str();
  return out.str();
}

Napi::Function TensorHandle::Define(Napi::Env env) {
  return DefineClass(env, "TensorHandle",
                     {
                         InstanceMethod("dispose", &TensorHandle::Dispose),
                         InstanceMethod("_isDisposed", &TensorHandle::IsDisposed),
                         InstanceMethod("_sizes", &TensorHandle::Sizes),
                         InstanceMethod("_strides", &TensorHandle::Strides),
                         InstanceMethod("_dtype", &TensorHandle::ScalarTypeName),
                         InstanceMethod("_device", &TensorHandle::DeviceName),
                         InstanceMethod("_numel", &TensorHandle::Numel),
                         InstanceMethod("_dim", &TensorHandle::Dim),
                         InstanceMethod("_requiresGrad", &TensorHandle::RequiresGrad),
                         InstanceMethod("_setRequiresGrad", &TensorHandle::SetRequiresGrad),
                         InstanceMethod("_grad", &TensorHandle::Grad),
                         InstanceMethod("_setGrad", &TensorHandle::SetGrad),
                         InstanceMethod("_isLeaf", &TensorHandle::IsLeaf),
                         InstanceMethod("_gradFn", &TensorHandle::GradFnName),
                         InstanceMethod("_retainGrad", &TensorHandle::RetainGrad),
                         InstanceMethod("_backward", &TensorHandle::Backward),
                         InstanceMethod("_item", &TensorHandle::Item),
                         InstanceMethod("_toBytes", &TensorHandle::ToBytes),
                         InstanceMethod("_copyFromBytes", &TensorHandle::CopyFromBytes),
                         InstanceMethod("_isContiguous", &TensorHandle::IsContiguous),
                         InstanceMethod("_sameStorage", &TensorHandle::SameStorage),
                         InstanceMethod("_version", &TensorHandle::Version),
                     });
}

// Bytes of tensor storage that JS handles keep alive, as reported to V8 (each storage once).
Napi::Value TensorHandle::ExternalBytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(g_accounted));
}

Napi::Value TensorHandle::SetTensorClass(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) throw Napi::TypeError::New(info.Env(), "setTensorClass: expected a class");
  if (!g_tensor_class) g_tensor_class = new Napi::FunctionReference();
  *g_tensor_class = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

Napi::Value TensorHandle::Wrap(Napi::Env env, at::Tensor t) {
  if (!t.defined()) return env.Null();
  if (!g_tensor_class) throw Napi::Error::New(env, "catface: the Tensor class was not registered");
  g_pending = &t;
  Napi::Object obj;
  try {
    obj = g_tensor_class->New({});
  } catch (...) {
    g_pending = nullptr;
    throw;
  }
  g_pending = nullptr;
  return obj;
}

bool TensorHandle::Is(Napi::Value v) { return v.IsObject() && v.As<Napi::Object>().CheckTypeTag(&kTensorTag); }

const at::Tensor& TensorHandle::Get(Napi::Env env, Napi::Value v, const std::string& what) {
  if (!Is(v)) throw Napi::TypeError::New(env, what + ": expected a Tensor");
  TensorHandle* h = Napi::ObjectWrap<TensorHandle>::Unwrap(v.As<Napi::Object>());
  if (!h->tensor.defined()) throw Napi::Error::New(env, what + ": the Tensor was disposed");
  return h->tensor;
}

TensorHandle::TensorHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorHandle>(info) {
  if (!g_pending)
    throw Napi::TypeError::New(info.Env(), "Tensor: use the factory functions (tensor, zeros, fromArray…), not `new`");
  tensor = std::move(*g_pending);
  g_pending = nullptr;
  info.This().As<Napi::Object>().TypeTag(&kTensorTag);
  storage_ = AccountStorage(info.Env(), tensor);
}

// Runs from V8's finalizer when the JS object was collected without dispose().
TensorHandle::~TensorHandle() { ReleaseStorage(Env(), storage_); }

void TensorHandle::Release(Napi::Env env) {
  tensor.reset();
  ReleaseStorage(env, storage_);
  storage_ = nullptr;
}

#define LIVE_TENSOR(name)                                                    \
  if (!tensor.defined()) throw Napi::Error::New(info.Env(), std::string(name) + ": the Tensor was disposed");

Napi::Value TensorHandle::Dispose(const Napi::CallbackInfo& info) {
  Release(info.Env());
  return info.Env().Undefined();
}

Napi::Value TensorHandle::IsDisposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !tensor.defined());
}

static Napi::Array IntArray(Napi::Env env, at::IntArrayRef values) {
  Napi::Array out = Napi::Array::New(env, values.size());
  for (size_t i = 0; i < values.size(); ++i) out.Set(i, Napi::Number::New(env, static_cast<double>(values[i])));
  return out;
}

Napi::Value TensorHandle::Sizes(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("shape");
  return IntArray(info.Env(), tensor.sizes());
}

Napi::Value TensorHandle::Strides(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("strides");
  return IntArray(info.Env(), tensor.strides());
}

Napi::Value TensorHandle::ScalarTypeName(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("dtype");
  return Napi::String::New(info.Env(), catface::ScalarTypeName(tensor.scalar_type()));
}

Napi::Value TensorHandle::DeviceName(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("device");
  return Napi::String::New(info.Env(), tensor.device().str());
}

Napi::Value TensorHandle::Numel(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("numel");
  return Napi::Number::New(info.Env(), static_cast<double>(tensor.numel()));
}

Napi::Value TensorHandle::Dim(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("dim");
  return Napi::Number::New(info.Env(), static_cast<double>(tensor.dim()));
}

Napi::Value TensorHandle::RequiresGrad(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("requiresGrad");
  return Napi::Boolean::New(info.Env(), tensor.requires_grad());
}

Napi::Value TensorHandle::SetRequiresGrad(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("requiresGrad");
  const bool flag = info[0].ToBoolean();
  Guarded(info.Env(), "requiresGrad(" + Describe(tensor) + ")", [&] { tensor.set_requires_grad(flag); });
  return info.This();
}

Napi::Value TensorHandle::Grad(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("grad");
  return Wrap(info.Env(), tensor.grad());
}

Napi::Value TensorHandle::SetGrad(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("grad");
  if (info[0].IsNull() || info[0].IsUndefined()) {
    tensor.mutable_grad().reset();
  } else {
    const at::Tensor& g = Get(info.Env(), info[0], "grad");
    Guarded(info.Env(), "set grad of " + Describe(tensor) + " to " + Describe(g), [&] {
      TORCH_CHECK(g.sizes() == tensor.sizes(), "gradient shape must equal the tensor's shape");
      TORCH_CHECK(g.scalar_type() == tensor.scalar_type(), "gradient dtype must equal the tensor's dtype");
      TORCH_CHECK(g.device() == tensor.device(), "gradient device must equal the tensor's device");
      tensor.mutable_grad() = g;
    });
  }
  return info.Env().Undefined();
}

Napi::Value TensorHandle::IsLeaf(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("isLeaf");
  return Napi::Boolean::New(info.Env(), tensor.is_leaf());
}

Napi::Value TensorHandle::GradFnName(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("gradFn");
  const auto& fn = tensor.grad_fn();
  if (!fn) return info.Env().Null();
  return Napi::String::New(info.Env(), fn->name());
}

Napi::Value TensorHandle::RetainGrad(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("retainGrad");
  Guarded(info.Env(), "retainGrad(" + Describe(tensor) + ")", [&] { tensor.retain_grad(); });
  return info.This();
}

// backward(gradient | null, retainGraph, createGraph)
Napi::Value TensorHandle::Backward(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("backward");
  at::Tensor grad;
  if (info.Length() > 0 && !info[0].IsNull() && !info[0].IsUndefined())
    grad = Get(info.Env(), info[0], "backward(gradient)");
  const bool retain = info.Length() > 1 && info[1].ToBoolean();
  const bool create = info.Length() > 2 && info[2].ToBoolean();
  std::string context = "backward(" + Describe(tensor) + (grad.defined() ? ", gradient " + Describe(grad) : "") + ")";
  Guarded(info.Env(), context, [&] {
    TORCH_CHECK(tensor.requires_grad(), "the tensor does not require grad and has no grad_fn");
    TORCH_CHECK(grad.defined() || tensor.numel() == 1,
                "a gradient is needed for a non-scalar output (pass one of the same shape)");
    torch::autograd::backward({tensor}, grad.defined() ? torch::autograd::variable_list{grad}
                                                       : torch::autograd::variable_list{},
                              retain, create);
  });
  return info.Env().Undefined();
}

Napi::Value TensorHandle::Item(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("item");
  Napi::Env env = info.Env();
  return Guarded(env, "item(" + Describe(tensor) + ")", [&]() -> Napi::Value {
    TORCH_CHECK(tensor.numel() == 1, "item() needs a tensor with exactly one element");
    const at::Scalar s = tensor.item();
    if (s.isBoolean()) return Napi::Boolean::New(env, s.toBool());
    if (s.isComplex()) throw Napi::TypeError::New(env, "item(): complex values have no JS number; use real()/imag()");
    if (s.isIntegral(false)) return Napi::Number::New(env, static_cast<double>(s.toLong()));
    return Napi::Number::New(env, s.toDouble());
  });
}

// A copy of the tensor's elements (row-major, on the CPU) as an ArrayBuffer.
Napi::Value TensorHandle::ToBytes(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("toBytes");
  Napi::Env env = info.Env();
  at::Tensor c = Guarded(env, "toBytes(" + Describe(tensor) + ")", [&] {
    return tensor.detach().to(at::kCPU).contiguous().resolve_conj().resolve_neg();
  });
  const size_t n = c.numel() * c.element_size();
  Napi::ArrayBuffer out = Napi::ArrayBuffer::New(env, n);
  if (n) std::memcpy(out.Data(), c.data_ptr(), n);
  return out;
}

// Overwrites the tensor's elements with raw bytes (a TypedArray / ArrayBuffer view of the same length).
Napi::Value TensorHandle::CopyFromBytes(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("copyFromBytes");
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray())
    throw Napi::TypeError::New(env, "copyFromBytes: expected a TypedArray or Buffer");
  Napi::TypedArray view = info[0].As<Napi::TypedArray>();
  const size_t n = view.ByteLength();
  const uint8_t* src = static_cast<const uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset();
  Guarded(env, "copyFromBytes(" + Describe(tensor) + ")", [&] {
    const size_t want = tensor.numel() * tensor.element_size();
    TORCH_CHECK(n == want, "got ", n, " bytes, the tensor holds ", want);
    at::Tensor src_t = at::from_blob(const_cast<uint8_t*>(src), tensor.sizes(), tensor.options().device(at::kCPU));
    at::NoGradGuard no_grad;
    tensor.copy_(src_t);
  });
  return info.Env().Undefined();
}

Napi::Value TensorHandle::IsContiguous(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("isContiguous");
  return Napi::Boolean::New(info.Env(), tensor.is_contiguous());
}

Napi::Value TensorHandle::SameStorage(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("sameStorage");
  const at::Tensor& other = Get(info.Env(), info[0], "sameStorage");
  return Napi::Boolean::New(info.Env(), tensor.has_storage() && other.has_storage() &&
                                            tensor.storage().is_alias_of(other.storage()));
}

Napi::Value TensorHandle::Version(const Napi::CallbackInfo& info) {
  LIVE_TENSOR("version");
  return Napi::Number::New(info.Env(), static_cast<double>(tensor._version()));
}

}  // namespace catface
