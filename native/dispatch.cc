// Calls any ATen operator by its schema through libtorch's boxed dispatcher. The TypeScript layer names
// the operator once (`findOp("aten::conv2d", "")`), then calls it with positional JS arguments that are
// converted according to the schema. Autograd, kernels and type promotion are libtorch's.
#include "common.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <memory>
#include <sstream>
#include <vector>

namespace catface {

namespace {

enum class Kind {
  Tensor, Int, Float, Bool, Scalar, String, ScalarType, Layout, MemoryFormat, Device, Generator,
  IntList, FloatList, BoolList, ScalarList, TensorList, OptionalTensorList, Unsupported
};

struct ArgSpec {
  std::string name;
  Kind kind = Kind::Unsupported;
  bool optional = false;
  c10::optional<int32_t> fixed_size;  // int[2] and friends: a single number is repeated
  c10::optional<c10::IValue> default_value;
  std::string type_text;
  int tensor_ordinal = -1;  // for Tensor arguments: which of them (0, 1, …), for the handles passed alongside
};

}  // namespace

struct Op {
  std::string qualified;  // "aten::add.Tensor"
  c10::OperatorHandle handle;
  std::vector<ArgSpec> args;
  std::string returns;  // one letter a return: T tensor (or null), L tensor list, V any other value
};

namespace {

Kind ElementKind(const c10::TypePtr& t) {
  switch (t->kind()) {
    case c10::TypeKind::TensorType: return Kind::Tensor;
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType: return Kind::Int;
    case c10::TypeKind::FloatType: return Kind::Float;
    case c10::TypeKind::BoolType: return Kind::Bool;
    case c10::TypeKind::NumberType: return Kind::Scalar;
    case c10::TypeKind::StringType: return Kind::String;
    case c10::TypeKind::ScalarTypeType: return Kind::ScalarType;
    case c10::TypeKind::LayoutType: return Kind::Layout;
    case c10::TypeKind::MemoryFormatType: return Kind::MemoryFormat;
    case c10::TypeKind::DeviceObjType: return Kind::Device;
    case c10::TypeKind::GeneratorType: return Kind::Generator;
    default: return Kind::Unsupported;
  }
}

ArgSpec Describe(const c10::Argument& a) {
  ArgSpec spec;
  spec.name = a.name();
  spec.type_text = a.real_type()->str();
  spec.fixed_size = a.N();
  spec.default_value = a.default_value();
  c10::TypePtr t = a.real_type();
  if (t->kind() == c10::TypeKind::OptionalType) {
    spec.optional = true;
    t = t->castRaw<c10::OptionalType>()->getElementType();
  }
  if (t->kind() == c10::TypeKind::ListType) {
    c10::TypePtr e = t->castRaw<c10::ListType>()->getElementType();
    if (e->kind() == c10::TypeKind::OptionalType &&
        e->castRaw<c10::OptionalType>()->getElementType()->kind() == c10::TypeKind::TensorType) {
      spec.kind = Kind::OptionalTensorList;
    } else {
      switch (ElementKind(e)) {
        case Kind::Int: spec.kind = Kind::IntList; break;
        case Kind::Float: spec.kind = Kind::FloatList; break;
        case Kind::Bool: spec.kind = Kind::BoolList; break;
        case Kind::Scalar: spec.kind = Kind::ScalarList; break;
        case Kind::Tensor: spec.kind = Kind::TensorList; break;
        default: spec.kind = Kind::Unsupported;
      }
    }
  } else {
    spec.kind = ElementKind(t);
  }
  return spec;
}

[[noreturn]] void BadArg(Napi::Env env, const Op& op, const ArgSpec& a, const std::string& why) {
  throw Napi::TypeError::New(env, op.qualified + ": argument '" + a.name + "' (" + a.type_text + ") " + why);
}

int64_t ToInt(Napi::Env env, const Op& op, const ArgSpec& a, const Napi::Value& v) {
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? 1 : 0;
  if (!v.IsNumber()) BadArg(env, op, a, "must be an integer");
  const double d = v.As<Napi::Number>().DoubleValue();
  int64_t i = 0;
  if (!ToInt64(d, &i)) BadArg(env, op, a, "must be an integer in int64 range, got " + std::to_string(d));
  return i;
}

double ToFloat(Napi::Env env, const Op& op, const ArgSpec& a, const Napi::Value& v) {
  if (!v.IsNumber()) BadArg(env, op, a, "must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

[[noreturn]] void BadTensor(Napi::Env env, const Op& op, const ArgSpec& a, TensorLookup why, int element = -1) {
  const std::string what =
      op.qualified + " argument '" + a.name + "'" + (element >= 0 ? "[" + std::to_string(element) + "]" : "");
  if (why == TensorLookup::NotATensor) throw Napi::TypeError::New(env, what + ": expected a Tensor");
  throw Napi::Error::New(env, what + ": the Tensor was disposed");
}

const at::Tensor& TensorElement(Napi::Env env, AddonState& state, const Op& op, const ArgSpec& a, napi_value v,
                                int element = -1) {
  TensorLookup why;
  const at::Tensor* t = LookupTensor(env, state, v, &why);
  if (!t) BadTensor(env, op, a, why, element);
  return *t;
}

c10::IValue ToIValue(Napi::Env env, AddonState& state, const Op& op, const ArgSpec& a, const Napi::Value& v) {
  napi_valuetype type = napi_undefined;
  napi_typeof(env, v, &type);
  if (type == napi_undefined) {
    if (a.default_value) return *a.default_value;
    if (a.optional) return c10::IValue();
    BadArg(env, op, a, "is required");
  }
  if (type == napi_null) {
    if (a.optional) return c10::IValue();
    BadArg(env, op, a, "may not be null");
  }
  // The common cases first, with no further type queries.
  if (a.kind == Kind::Tensor) return TensorElement(env, state, op, a, v);
  if (type == napi_number && (a.kind == Kind::Scalar || a.kind == Kind::Int || a.kind == Kind::Float)) {
    double d = 0;
    napi_get_value_double(env, v, &d);
    int64_t i = 0;
    if (a.kind == Kind::Float) return c10::IValue(d);
    if (a.kind == Kind::Int) {
      if (!ToInt64(d, &i)) BadArg(env, op, a, "must be an integer in int64 range, got " + std::to_string(d));
      return c10::IValue(i);
    }
    // Integral JS numbers are integer scalars (PyTorch's `2`), others are floats (`2.5`).
    if (std::abs(d) < 9007199254740992.0 && ToInt64(d, &i)) return c10::IValue(i);
    return c10::IValue(d);
  }
  switch (a.kind) {
    case Kind::Tensor: break;  // handled above
    case Kind::Int: return ToInt(env, op, a, v);
    case Kind::Float: return ToFloat(env, op, a, v);
    case Kind::Bool:
      if (!v.IsBoolean()) BadArg(env, op, a, "must be a boolean");
      return v.As<Napi::Boolean>().Value();
    case Kind::Scalar:  // numbers were handled above
      if (v.IsBoolean()) return c10::IValue(v.As<Napi::Boolean>().Value());
      BadArg(env, op, a, "must be a number");
    case Kind::String:
      if (!v.IsString()) BadArg(env, op, a, "must be a string");
      return c10::IValue(v.As<Napi::String>().Utf8Value());
    case Kind::ScalarType:
      return c10::IValue(static_cast<int64_t>(ParseScalarType(env, v, op.qualified + " argument '" + a.name + "'")));
    case Kind::Layout:
    case Kind::MemoryFormat: return ToInt(env, op, a, v);
    case Kind::Device: return c10::IValue(ParseDevice(env, v, op.qualified + " argument '" + a.name + "'"));
    case Kind::Generator: BadArg(env, op, a, "accepts only null (the default generator)");
    case Kind::IntList: {
      if (v.IsNumber()) {
        const int64_t x = ToInt(env, op, a, v);
        return c10::IValue(std::vector<int64_t>(a.fixed_size.value_or(1), x));
      }
      if (!v.IsArray()) BadArg(env, op, a, "must be an array of integers");
      Napi::Array arr = v.As<Napi::Array>();
      std::vector<int64_t> out(arr.Length());
      for (uint32_t i = 0; i < arr.Length(); ++i) out[i] = ToInt(env, op, a, arr.Get(i));
      return c10::IValue(out);
    }
    case Kind::FloatList: {
      if (!v.IsArray()) BadArg(env, op, a, "must be an array of numbers");
      Napi::Array arr = v.As<Napi::Array>();
      std::vector<double> out(arr.Length());
      for (uint32_t i = 0; i < arr.Length(); ++i) out[i] = ToFloat(env, op, a, arr.Get(i));
      return c10::IValue(out);
    }
    case Kind::BoolList: {
      if (!v.IsArray()) BadArg(env, op, a, "must be an array of booleans");
      Napi::Array arr = v.As<Napi::Array>();
      c10::List<bool> out;
      for (uint32_t i = 0; i < arr.Length(); ++i) out.push_back(arr.Get(i).ToBoolean());
      return c10::IValue(out);
    }
    case Kind::ScalarList: {  // Scalar[] (the _foreach_ ops' per-tensor factors): numbers as doubles
      if (!v.IsArray()) BadArg(env, op, a, "must be an array of numbers");
      Napi::Array arr = v.As<Napi::Array>();
      c10::impl::GenericList out(c10::NumberType::get());
      out.reserve(arr.Length());
      for (uint32_t i = 0; i < arr.Length(); ++i) out.push_back(c10::IValue(ToFloat(env, op, a, arr.Get(i))));
      return c10::IValue(out);
    }
    case Kind::TensorList: {
      if (!v.IsArray()) BadArg(env, op, a, "must be an array of Tensors");
      Napi::Array arr = v.As<Napi::Array>();
      c10::List<at::Tensor> out;
      out.reserve(arr.Length());
      for (uint32_t i = 0; i < arr.Length(); ++i)
        out.push_back(TensorElement(env, state, op, a, arr.Get(i), static_cast<int>(i)));
      return c10::IValue(out);
    }
    case Kind::OptionalTensorList: {
      if (!v.IsArray()) BadArg(env, op, a, "must be an array of Tensors or nulls");
      Napi::Array arr = v.As<Napi::Array>();
      c10::List<c10::optional<at::Tensor>> out;
      for (uint32_t i = 0; i < arr.Length(); ++i) {
        Napi::Value e = arr.Get(i);
        if (e.IsNull() || e.IsUndefined()) out.push_back(c10::nullopt);
        else out.push_back(TensorElement(env, state, op, a, e, static_cast<int>(i)));
      }
      return c10::IValue(out);
    }
    case Kind::Unsupported: break;
  }
  BadArg(env, op, a, "has a type the addon does not convert");
}

// Tensors become slot handles (numbers); the TypeScript layer wraps them by the op's return letters.
Napi::Value FromIValue(Napi::Env env, AddonState& state, const c10::IValue& v) {
  if (v.isTensor()) return Napi::Value(env, NewHandle(env, state, v.toTensor()));
  if (v.isNone()) return env.Null();
  if (v.isInt()) return Napi::Number::New(env, static_cast<double>(v.toInt()));
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isString()) return Napi::String::New(env, v.toStringRef());
  if (v.isTensorList()) {
    auto list = v.toTensorList();
    Napi::Array out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) out.Set(i, Napi::Value(env, NewHandle(env, state, list.get(i))));
    return out;
  }
  if (v.isTuple()) {
    const auto& elems = v.toTupleRef().elements();
    Napi::Array out = Napi::Array::New(env, elems.size());
    for (size_t i = 0; i < elems.size(); ++i) out.Set(i, FromIValue(env, state, elems[i]));
    return out;
  }
  if (v.isList()) {
    auto list = v.toListRef();
    Napi::Array out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) out.Set(i, FromIValue(env, state, list[i]));
    return out;
  }
  if (v.isScalar()) return Napi::Number::New(env, v.toScalar().toDouble());
  throw Napi::Error::New(env, std::string("catface: cannot return a value of type ") + v.tagKind());
}

// The shapes of the tensor inputs, for error messages: "(float32[2,3], 1, int64[2])".
std::string DescribeInputs(const torch::jit::Stack& stack) {
  std::ostringstream out;
  out << "(";
  for (size_t i = 0; i < stack.size(); ++i) {
    if (i) out << ", ";
    const c10::IValue& v = stack[i];
    if (v.isTensor()) out << catface::Describe(v.toTensor());
    else if (v.isTensorList()) {
      out << "[";
      auto l = v.toTensorList();
      for (size_t j = 0; j < l.size(); ++j) out << (j ? ", " : "") << catface::Describe(l.get(j));
      out << "]";
    } else if (v.isNone()) out << "None";
    else if (v.isDevice()) out << v.toDevice().str();
    else if (v.isList()) {  // optional-tensor lists (advanced indices) and Scalar lists
      out << "[";
      const auto l = v.toListRef();
      for (size_t j = 0; j < l.size(); ++j) {
        out << (j ? ", " : "");
        if (l[j].isTensor()) out << catface::Describe(l[j].toTensor());
        else if (l[j].isNone()) out << "None";
        else out << l[j];
      }
      out << "]";
    } else if (v.isIntList() || v.isInt() || v.isDouble() || v.isBool() || v.isString() || v.isDoubleList()) out << v;
    else out << v.tagKind();
  }
  out << ")";
  return out.str();
}

const std::shared_ptr<const Op>& GetOp(Napi::Env env, AddonState& state, const Napi::Value& id) {
  uint32_t i = 0;
  if (napi_get_value_uint32(env, id, &i) != napi_ok) throw Napi::TypeError::New(env, "call: op id must be a number from findOp");
  if (i >= state.ops.size()) throw Napi::RangeError::New(env, "call: unknown op id");
  return state.ops[i];
}

// The handles of the first Tensor arguments may come alongside the argument array (`call(id, args, h0, h1…)`,
// see callOp in native.ts): a slot index, -1 for a disposed tensor, or -2 for "not a Tensor, read the array".
// This skips a property lookup per tensor argument on the hot path.
constexpr size_t kMaxHandles = 4;
struct Handles {
  napi_value values[kMaxHandles];
  size_t count = 0;
};

void BuildStack(Napi::Env env, AddonState& state, const Op& op, const Napi::Value& argsValue, const Handles& handles,
                torch::jit::Stack& stack) {
  uint32_t length = 0;
  if (napi_get_array_length(env, argsValue, &length) != napi_ok)
    throw Napi::TypeError::New(env, op.qualified + ": arguments must be an array");
  if (length > op.args.size())
    throw Napi::TypeError::New(env, op.qualified + ": takes " + std::to_string(op.args.size()) + " arguments, got " +
                                        std::to_string(length));
  stack.clear();
  stack.reserve(std::max(op.args.size(), op.returns.size()));
  for (uint32_t i = 0; i < op.args.size(); ++i) {
    const ArgSpec& a = op.args[i];
    if (a.tensor_ordinal >= 0 && static_cast<size_t>(a.tensor_ordinal) < handles.count) {
      int32_t h = -2;
      napi_get_value_int32(env, handles.values[a.tensor_ordinal], &h);
      if (h >= 0 || h == -1) {
        const at::Tensor* t = h >= 0 && static_cast<size_t>(h) < state.slots.size() ? &state.slots[h].tensor : nullptr;
        if (!t || !t->defined()) BadTensor(env, op, a, TensorLookup::Disposed);
        stack.emplace_back(*t);
        continue;
      }
    }
    napi_value arg = nullptr;
    if (i < length) napi_get_element(env, argsValue, i, &arg);
    else if (a.default_value) {  // trailing arguments left out take the schema default (no JS value to read)
      stack.push_back(*a.default_value);
      continue;
    } else napi_get_undefined(env, &arg);
    stack.push_back(ToIValue(env, state, op, a, Napi::Value(env, arg)));
  }
}

torch::jit::Stack BuildStack(Napi::Env env, AddonState& state, const Op& op, const Napi::Value& argsValue) {
  torch::jit::Stack stack;
  BuildStack(env, state, op, argsValue, Handles{}, stack);
  return stack;
}

Napi::Value ReturnStack(Napi::Env env, AddonState& state, const torch::jit::Stack& stack) {
  if (stack.size() == 1) return FromIValue(env, state, stack[0]);
  Napi::Array out = Napi::Array::New(env, stack.size());
  for (size_t i = 0; i < stack.size(); ++i) out.Set(i, FromIValue(env, state, stack[i]));
  return out;
}

// The return letters of a schema: what the TypeScript layer wraps as tensors.
std::string ReturnLetters(const c10::FunctionSchema& schema) {
  std::string out;
  for (const auto& r : schema.returns()) {
    c10::TypePtr t = r.real_type();
    if (t->kind() == c10::TypeKind::OptionalType) t = t->castRaw<c10::OptionalType>()->getElementType();
    if (t->kind() == c10::TypeKind::TensorType) out += 'T';
    else if (t->kind() == c10::TypeKind::ListType && ElementKind(t->castRaw<c10::ListType>()->getElementType()) == Kind::Tensor) out += 'L';
    else out += 'V';
  }
  return out;
}

// findOp(name, overload) -> id
Napi::Value FindOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "findOp: name must be a string like 'aten::add'");
  const std::string name = info[0].As<Napi::String>();
  const std::string overload = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  auto handle = c10::Dispatcher::singleton().findSchema({name, overload});
  if (!handle) throw Napi::Error::New(env, "findOp: libtorch has no operator " + name + (overload.empty() ? "" : "." + overload));
  auto op = std::make_shared<Op>(Op{name + (overload.empty() ? "" : "." + overload), *handle, {}, {}});
  const auto& schema = handle->schema();
  int tensors = 0;
  for (const auto& a : schema.arguments()) {
    op->args.push_back(Describe(a));
    if (op->args.back().kind == Kind::Tensor) op->args.back().tensor_ordinal = tensors++;
  }
  op->returns = ReturnLetters(schema);
  AddonState& state = State(env);
  state.ops.push_back(std::move(op));
  return Napi::Number::New(env, static_cast<double>(state.ops.size() - 1));
}

Handles HandlesOf(const Napi::CallbackInfo& info) {
  Handles h;
  h.count = std::min(kMaxHandles, info.Length() > 2 ? info.Length() - 2 : size_t{0});
  for (size_t k = 0; k < h.count; ++k) h.values[k] = info[2 + k];
  return h;
}

// Runs the op named by info[0] on the arguments info[1] (tensor handles in info[2…]) and leaves its results in
// `stack`; libtorch errors name the op and the inputs.
void RunOp(const Napi::CallbackInfo& info, AddonState& state, torch::jit::Stack& stack) {
  Napi::Env env = info.Env();
  const Op& op = *GetOp(env, state, info[0]);
  BuildStack(env, state, op, info[1], HandlesOf(info), stack);
  try {
    op.handle.callBoxed(&stack);
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, op.qualified + DescribeInputs(BuildStack(env, state, op, info[1])) + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, op.qualified + DescribeInputs(BuildStack(env, state, op, info[1])) + ": " + e.what());
  }
}

// Lends the environment's reusable stack to one call (a fresh one if a call is already using it), and empties
// it afterwards so that no tensor stays referenced.
class ScratchStack {
 public:
  explicit ScratchStack(AddonState& state) : state_(state), lent_(!state.scratch_busy) {
    if (lent_) state.scratch_busy = true;
  }
  ~ScratchStack() {
    if (!lent_) return;
    state_.scratch.clear();
    state_.scratch_busy = false;
  }
  torch::jit::Stack& get() { return lent_ ? state_.scratch : own_; }

 private:
  AddonState& state_;
  bool lent_;
  torch::jit::Stack own_;
};

// call(id, args, ...handles) -> result (a tensor handle, a value, or an array for several returns)
Napi::Value Call(const Napi::CallbackInfo& info) {
  AddonState& state = *static_cast<AddonState*>(info.Data());
  ScratchStack scratch(state);
  RunOp(info, state, scratch.get());
  return ReturnStack(info.Env(), state, scratch.get());
}

// callInPlace(id, args, ...handles): for ops whose result aliases an argument (add_, mul_…): returns nothing, so
// no JS handle is made for a tensor the caller already holds.
Napi::Value CallInPlace(const Napi::CallbackInfo& info) {
  AddonState& state = *static_cast<AddonState*>(info.Data());
  ScratchStack scratch(state);
  RunOp(info, state, scratch.get());
  return Napi::Value();
}

// Runs one op on libuv's thread pool so that heavy work (inference in a server) leaves the event loop free.
class CallWorker : public Napi::AsyncWorker {
 public:
  CallWorker(Napi::Env env, std::shared_ptr<const Op> op, torch::jit::Stack stack)
      : Napi::AsyncWorker(env), op_(std::move(op)), stack_(std::move(stack)), described_(DescribeInputs(stack_)),
        deferred_(Napi::Promise::Deferred::New(env)), grad_(at::GradMode::is_enabled()) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      at::AutoGradMode mode(grad_);
      op_->handle.callBoxed(&stack_);
    } catch (const c10::Error& e) {
      SetError(op_->qualified + described_ + ": " + e.what_without_backtrace());
    } catch (const std::exception& e) {
      SetError(op_->qualified + described_ + ": " + e.what());
    }
  }
  void OnOK() override {
    try {
      deferred_.Resolve(ReturnStack(Env(), State(Env()), stack_));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  std::shared_ptr<const Op> op_;  // shared: the op table may grow while this runs
  torch::jit::Stack stack_;
  std::string described_;
  Napi::Promise::Deferred deferred_;
  bool grad_;
};

Napi::Value CallAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonState& state = State(env);
  const std::shared_ptr<const Op>& op = GetOp(env, state, info[0]);
  auto* worker = new CallWorker(env, op, BuildStack(env, state, *op, info[1]));
  Napi::Promise p = worker->Promise();
  worker->Queue();
  return p;
}

// schema(id) -> the operator's schema text, for docs and error messages.
Napi::Value Schema(const Napi::CallbackInfo& info) {
  const Op& op = *GetOp(info.Env(), State(info.Env()), info[0]);
  std::ostringstream out;
  out << op.handle.schema();
  return Napi::String::New(info.Env(), out.str());
}

// opInfo(id) -> [return letters (T tensor, L tensor list, V other value), positions of the Tensor arguments]
Napi::Value OpInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Op& op = *GetOp(env, State(env), info[0]);
  Napi::Array tensors = Napi::Array::New(env);
  for (size_t i = 0; i < op.args.size(); ++i)
    if (op.args[i].tensor_ordinal >= 0) tensors.Set(tensors.Length(), Napi::Number::New(env, static_cast<double>(i)));
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::String::New(env, op.returns));
  out.Set(1u, tensors);
  return out;
}

}  // namespace

void InitDispatch(Napi::Env env, Napi::Object exports) {
  exports.Set("findOp", Napi::Function::New(env, FindOp, "findOp"));
  // The hot entry points get the environment's state as their data (no instance-data lookup per call).
  exports.Set("call", Napi::Function::New(env, Call, "call", &State(env)));
  exports.Set("callInPlace", Napi::Function::New(env, CallInPlace, "callInPlace", &State(env)));
  exports.Set("callAsync", Napi::Function::New(env, CallAsync, "callAsync"));
  exports.Set("schema", Napi::Function::New(env, Schema, "schema"));
  exports.Set("opInfo", Napi::Function::New(env, OpInfo, "opInfo"));
}

}  // namespace catface
