// The tensor table: slots that JS tensors index, storage accounting, metadata, autograd entry points and bytes.
#include "common.h"

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/variable.h>

#include <cstring>
#include <sstream>

namespace catface {

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

namespace {

const void* AccountStorage(napi_env env, AddonState& state, const at::Tensor& t) {
  if (!t.has_storage()) return nullptr;
  const void* key = t.storage().unsafeGetStorageImpl();
  bool inserted = false;
  StorageTable::Entry& e = state.storages.FindOrInsert(key, &inserted);
  if (inserted) e.bytes = static_cast<int64_t>(t.storage().nbytes());
  if (e.handles++ == 0 && e.bytes) {
    int64_t ignored = 0;
    napi_adjust_external_memory(env, e.bytes, &ignored);
    state.accounted += e.bytes;
  }
  return key;
}

void ReleaseStorage(napi_env env, AddonState& state, const void* key) {
  if (!key) return;
  StorageTable::Entry* e = state.storages.Find(key);
  if (!e || --e->handles > 0) return;
  if (e->bytes) {
    int64_t ignored = 0;
    napi_adjust_external_memory(env, -e->bytes, &ignored);
  }
  state.accounted -= e->bytes;
  state.storages.Erase(e);
}

// The slot index in a JS number, or -1 when it is not one (a disposed Tensor holds -1).
int32_t SlotIndex(napi_env env, napi_value v) {
  int32_t i = -1;
  if (napi_get_value_int32(env, v, &i) != napi_ok) return -1;
  return i;
}

const at::Tensor* LiveSlot(AddonState& state, int32_t i) {
  if (i < 0 || static_cast<size_t>(i) >= state.slots.size()) return nullptr;
  const at::Tensor& t = state.slots[i].tensor;
  return t.defined() ? &t : nullptr;
}

}  // namespace

napi_value NewHandle(napi_env env, AddonState& state, at::Tensor t) {
  napi_value out = nullptr;
  if (!t.defined()) {
    napi_get_null(env, &out);
    return out;
  }
  int32_t i;
  if (!state.free_slots.empty()) {
    i = state.free_slots.back();
    state.free_slots.pop_back();
  } else {
    i = static_cast<int32_t>(state.slots.size());
    state.slots.emplace_back();
  }
  AddonState::Slot& slot = state.slots[i];
  slot.storage = AccountStorage(env, state, t);
  slot.tensor = std::move(t);
  napi_create_int32(env, i, &out);
  return out;
}

const at::Tensor* LookupTensor(napi_env env, AddonState& state, napi_value v, TensorLookup* why) {
  napi_value key = nullptr, index = nullptr;
  napi_get_reference_value(env, state.handle_key, &key);
  int32_t i = -1;
  // Values that are not objects, or objects without the key, are not tensors; -1 marks a disposed one.
  if (napi_get_property(env, v, key, &index) != napi_ok || napi_get_value_int32(env, index, &i) != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {  // ToObject(null/undefined) threw: that is just "not a tensor"
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
    }
    *why = TensorLookup::NotATensor;
    return nullptr;
  }
  const at::Tensor* t = LiveSlot(state, i);
  *why = t ? TensorLookup::Ok : TensorLookup::Disposed;
  return t;
}

const at::Tensor& GetTensor(Napi::Env env, Napi::Value v, const std::string& what) {
  TensorLookup why;
  const at::Tensor* t = LookupTensor(env, State(env), v, &why);
  if (why == TensorLookup::NotATensor) throw Napi::TypeError::New(env, what + ": expected a Tensor");
  if (!t) throw Napi::Error::New(env, what + ": the Tensor was disposed");
  return *t;
}

const at::Tensor& SlotTensor(Napi::Env env, AddonState& state, Napi::Value handle, const char* what) {
  const at::Tensor* t = LiveSlot(state, SlotIndex(env, handle));
  if (!t) throw Napi::Error::New(env, std::string(what) + ": the Tensor was disposed");
  return *t;
}

namespace {

// These functions get the environment's state as their data (Release is on the hot path).
// release(handle): frees the slot now (the JS Tensor marks itself disposed); unknown handles are ignored.
Napi::Value Release(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  AddonState& state = *static_cast<AddonState*>(info.Data());
  const int32_t i = SlotIndex(env, info[0]);
  if (LiveSlot(state, i)) {
    AddonState::Slot& slot = state.slots[i];
    slot.tensor.reset();
    ReleaseStorage(env, state, slot.storage);
    slot.storage = nullptr;
    state.free_slots.push_back(i);
  }
  return Napi::Value();
}

// Bytes of tensor storage that JS handles keep alive, as reported to V8 (each storage once).
Napi::Value ExternalBytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(State(info.Env()).accounted));
}

// Live slots (tensors JS holds), for leak tests.
Napi::Value LiveHandles(const Napi::CallbackInfo& info) {
  const AddonState& state = State(info.Env());
  return Napi::Number::New(info.Env(), static_cast<double>(state.slots.size() - state.free_slots.size()));
}

Napi::Array IntArray(Napi::Env env, at::IntArrayRef values) {
  Napi::Array out = Napi::Array::New(env, values.size());
  for (size_t i = 0; i < values.size(); ++i) out.Set(i, Napi::Number::New(env, static_cast<double>(values[i])));
  return out;
}

// The metadata readers below all take the handle first: fn(handle, …).
#define TENSOR_FN(Name, what)                                  \
  Napi::Value Name(const Napi::CallbackInfo& info) {           \
    Napi::Env env = info.Env();                                \
    AddonState& state = *static_cast<AddonState*>(info.Data()); \
    const at::Tensor& tensor = SlotTensor(env, state, info[0], what);

TENSOR_FN(Sizes, "shape")
  return IntArray(env, tensor.sizes());
}

TENSOR_FN(Strides, "strides")
  return IntArray(env, tensor.strides());
}

TENSOR_FN(DTypeName, "dtype")
  return Napi::String::New(env, catface::ScalarTypeName(tensor.scalar_type()));
}

TENSOR_FN(DeviceName, "device")
  return Napi::String::New(env, tensor.device().str());
}

TENSOR_FN(Numel, "numel")
  return Napi::Number::New(env, static_cast<double>(tensor.numel()));
}

TENSOR_FN(Dim, "dim")
  return Napi::Number::New(env, static_cast<double>(tensor.dim()));
}

TENSOR_FN(RequiresGrad, "requiresGrad")
  return Napi::Boolean::New(env, tensor.requires_grad());
}

TENSOR_FN(SetRequiresGrad, "requiresGrad")
  const bool flag = info[1].ToBoolean();
  at::Tensor t = tensor;  // a reference to the slot's tensor (set_requires_grad is not const)
  Guarded(env, "requiresGrad(" + Describe(t) + ")", [&] { t.set_requires_grad(flag); });
  return env.Undefined();
}

TENSOR_FN(Grad, "grad")
  return Napi::Value(env, NewHandle(env, state, tensor.grad()));
}

TENSOR_FN(SetGrad, "grad")
  at::Tensor t = tensor;
  if (info[1].IsNull() || info[1].IsUndefined()) {
    t.mutable_grad().reset();
  } else {
    const at::Tensor& g = GetTensor(env, info[1], "grad");
    Guarded(env, "set grad of " + Describe(t) + " to " + Describe(g), [&] {
      TORCH_CHECK(g.sizes() == t.sizes(), "gradient shape must equal the tensor's shape");
      TORCH_CHECK(g.scalar_type() == t.scalar_type(), "gradient dtype must equal the tensor's dtype");
      TORCH_CHECK(g.device() == t.device(), "gradient device must equal the tensor's device");
      t.mutable_grad() = g;
    });
  }
  return env.Undefined();
}

TENSOR_FN(IsLeaf, "isLeaf")
  return Napi::Boolean::New(env, tensor.is_leaf());
}

TENSOR_FN(GradFnName, "gradFn")
  const auto& fn = tensor.grad_fn();
  if (!fn) return env.Null();
  return Napi::String::New(env, fn->name());
}

TENSOR_FN(RetainGrad, "retainGrad")
  at::Tensor t = tensor;
  Guarded(env, "retainGrad(" + Describe(t) + ")", [&] { t.retain_grad(); });
  return env.Undefined();
}

// backward(handle, gradient | null, retainGraph, createGraph)
TENSOR_FN(Backward, "backward")
  at::Tensor grad;
  if (!info[1].IsNull() && !info[1].IsUndefined()) grad = GetTensor(env, info[1], "backward(gradient)");
  const bool retain = info[2].ToBoolean();
  const bool create = info[3].ToBoolean();
  const at::Tensor t = tensor;  // the slot may be reused by hooks that create tensors; hold our own reference
  std::string context = "backward(" + Describe(t) + (grad.defined() ? ", gradient " + Describe(grad) : "") + ")";
  Guarded(env, context, [&] {
    TORCH_CHECK(t.requires_grad(), "the tensor does not require grad and has no grad_fn");
    TORCH_CHECK(grad.defined() || t.numel() == 1,
                "a gradient is needed for a non-scalar output (pass one of the same shape)");
    torch::autograd::backward({t}, grad.defined() ? torch::autograd::variable_list{grad}
                                                  : torch::autograd::variable_list{},
                              retain, create);
  });
  return env.Undefined();
}

TENSOR_FN(Item, "item")
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
TENSOR_FN(ToBytes, "toBytes")
  at::Tensor c = Guarded(env, "toBytes(" + Describe(tensor) + ")", [&] {
    return tensor.detach().to(at::kCPU).contiguous().resolve_conj().resolve_neg();
  });
  const size_t n = c.numel() * c.element_size();
  Napi::ArrayBuffer out = Napi::ArrayBuffer::New(env, n);
  if (n) std::memcpy(out.Data(), c.data_ptr(), n);
  return out;
}

// Overwrites the tensor's elements with raw bytes (a TypedArray / ArrayBuffer view of the same length).
TENSOR_FN(CopyFromBytes, "copyFromBytes")
  if (!info[1].IsTypedArray()) throw Napi::TypeError::New(env, "copyFromBytes: expected a TypedArray or Buffer");
  Napi::TypedArray view = info[1].As<Napi::TypedArray>();
  const size_t n = view.ByteLength();
  const uint8_t* src = static_cast<const uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset();
  at::Tensor t = tensor;
  Guarded(env, "copyFromBytes(" + Describe(t) + ")", [&] {
    const size_t want = t.numel() * t.element_size();
    TORCH_CHECK(n == want, "got ", n, " bytes, the tensor holds ", want);
    at::Tensor src_t = at::from_blob(const_cast<uint8_t*>(src), t.sizes(), t.options().device(at::kCPU));
    at::NoGradGuard no_grad;
    t.copy_(src_t);
  });
  return env.Undefined();
}

TENSOR_FN(IsContiguous, "isContiguous")
  return Napi::Boolean::New(env, tensor.is_contiguous());
}

TENSOR_FN(SameStorage, "sameStorage")
  const at::Tensor& other = GetTensor(env, info[1], "sameStorage");
  return Napi::Boolean::New(env, tensor.has_storage() && other.has_storage() &&
                                     tensor.storage().is_alias_of(other.storage()));
}

TENSOR_FN(Version, "version")
  return Napi::Number::New(env, static_cast<double>(tensor._version()));
}

#undef TENSOR_FN

}  // namespace

void InitTensor(Napi::Env env, Napi::Object exports) {
  const std::pair<const char*, Napi::Function::Callback> fns[] = {
      {"release", Release},           {"externalBytes", ExternalBytes},
      {"liveHandles", LiveHandles},   {"sizes", Sizes},
      {"strides", Strides},           {"dtype", DTypeName},
      {"device", DeviceName},         {"numel", Numel},
      {"dim", Dim},                   {"requiresGrad", RequiresGrad},
      {"setRequiresGrad", SetRequiresGrad}, {"grad", Grad},
      {"setGrad", SetGrad},           {"isLeaf", IsLeaf},
      {"gradFn", GradFnName},         {"retainGrad", RetainGrad},
      {"backward", Backward},         {"item", Item},
      {"toBytes", ToBytes},           {"copyFromBytes", CopyFromBytes},
      {"isContiguous", IsContiguous}, {"sameStorage", SameStorage},
      {"version", Version},
  };
  for (const auto& [name, fn] : fns) exports.Set(name, Napi::Function::New(env, fn, name, &State(env)));
}

}  // namespace catface
