// libtorch state (process-wide, except grad mode, which is per thread): tensors from bytes, grad mode,
// random generator, threads, devices.
#include "common.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <torch/version.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/cuda.h>

#include <cstring>
#include <thread>

namespace catface {

namespace {

std::vector<int64_t> ParseShape(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (!v.IsArray()) throw Napi::TypeError::New(env, what + ": shape must be an array of integers");
  Napi::Array arr = v.As<Napi::Array>();
  std::vector<int64_t> shape(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value e = arr.Get(i);
    int64_t d = -1;
    if (!e.IsNumber() || !ToInt64(e.As<Napi::Number>().DoubleValue(), &d) || d < 0)
      throw Napi::RangeError::New(env, what + ": shape[" + std::to_string(i) + "] must be a non-negative integer");
    shape[i] = d;
  }
  return shape;
}

// fromBytes(view: TypedArray, dtype, shape, device?) -> a new tensor owning a copy of the bytes.
Napi::Value FromBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray()) throw Napi::TypeError::New(env, "fromBytes: expected a TypedArray or Buffer");
  Napi::TypedArray view = info[0].As<Napi::TypedArray>();
  const at::ScalarType dtype = ParseScalarType(env, info[1], "fromBytes");
  const std::vector<int64_t> shape = ParseShape(env, info[2], "fromBytes");
  const uint8_t* src = static_cast<const uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset();
  at::Tensor t = Guarded(env, "fromBytes", [&] {
    uint64_t want = c10::elementSize(dtype);
    for (int64_t s : shape)
      TORCH_CHECK(!__builtin_mul_overflow(want, static_cast<uint64_t>(s), &want), "shape ", at::IntArrayRef(shape),
                  " has more bytes than memory can address");
    TORCH_CHECK(view.ByteLength() == want, "shape ", at::IntArrayRef(shape), " of ", ScalarTypeName(dtype), " needs ",
                want, " bytes, got ", view.ByteLength());
    at::Tensor out = at::empty(shape, at::TensorOptions().dtype(dtype));
    if (want) std::memcpy(out.data_ptr(), src, want);
    if (info.Length() > 3 && info[3].IsString()) out = out.to(ParseDevice(env, info[3], "fromBytes"));
    return out;
  });
  return Napi::Value(env, NewHandle(env, State(env), std::move(t)));
}

Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  const bool previous = at::GradMode::is_enabled();
  at::GradMode::set_enabled(info[0].ToBoolean());
  return Napi::Boolean::New(info.Env(), previous);
}

Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::GradMode::is_enabled());
}

Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "manualSeed: seed must be a number");
  int64_t signed_seed = -1;
  if (!ToInt64(info[0].As<Napi::Number>().DoubleValue(), &signed_seed) || signed_seed < 0)
    throw Napi::RangeError::New(env, "manualSeed: seed must be a non-negative integer");
  const uint64_t seed = static_cast<uint64_t>(signed_seed);
  auto gen = at::detail::getDefaultCPUGenerator();
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(seed);
  }
  if (torch::cuda::is_available()) at::manual_seed(seed);
  return env.Undefined();
}

// The CPU generator's full state as bytes (a Mersenne-Twister state plus cached normals).
Napi::Value GetRngState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto gen = at::detail::getDefaultCPUGenerator();
  at::Tensor state;
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    state = gen.get_state();
  }
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::Copy(env, state.data_ptr<uint8_t>(), state.numel());
  return out;
}

Napi::Value SetRngState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray()) throw Napi::TypeError::New(env, "setRngState: expected the bytes from getRngState");
  Napi::TypedArray view = info[0].As<Napi::TypedArray>();
  const uint8_t* src = static_cast<const uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset();
  Guarded(env, "setRngState", [&] {
    at::Tensor state = at::empty({static_cast<int64_t>(view.ByteLength())}, at::kByte);
    std::memcpy(state.data_ptr(), src, view.ByteLength());
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(state);
  });
  return env.Undefined();
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // OpenMP aborts the process when it cannot allocate a huge team, so cap the request at 4 threads a core.
  const int most = 4 * static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int64_t n = 0;
  if (!info[0].IsNumber() || !ToInt64(info[0].As<Napi::Number>().DoubleValue(), &n) || n < 1 || n > most)
    throw Napi::RangeError::New(env, "setNumThreads: need an integer from 1 to " + std::to_string(most) + " (4 per core)");
  at::set_num_threads(static_cast<int>(n));
  return env.Undefined();
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

Napi::Value CudaAvailable(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), torch::cuda::is_available());
}

Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(torch::cuda::device_count()));
}

Napi::Value ParallelInfo(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), at::get_parallel_info());
}

}  // namespace

void InitRuntime(Napi::Env env, Napi::Object exports) {
  exports.Set("fromBytes", Napi::Function::New(env, FromBytes, "fromBytes"));
  exports.Set("setGradEnabled", Napi::Function::New(env, SetGradEnabled, "setGradEnabled"));
  exports.Set("isGradEnabled", Napi::Function::New(env, IsGradEnabled, "isGradEnabled"));
  exports.Set("manualSeed", Napi::Function::New(env, ManualSeed, "manualSeed"));
  exports.Set("getRngState", Napi::Function::New(env, GetRngState, "getRngState"));
  exports.Set("setRngState", Napi::Function::New(env, SetRngState, "setRngState"));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads, "getNumThreads"));
  exports.Set("cudaAvailable", Napi::Function::New(env, CudaAvailable, "cudaAvailable"));
  exports.Set("cudaDeviceCount", Napi::Function::New(env, CudaDeviceCount, "cudaDeviceCount"));
  exports.Set("parallelInfo", Napi::Function::New(env, ParallelInfo, "parallelInfo"));
  exports.Set("torchVersion", Napi::String::New(env, TORCH_VERSION));
}

}  // namespace catface
