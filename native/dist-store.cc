// c10d key-value stores, the rendezvous of a process group: TCPStore (rank 0 hosts the server), FileStore and
// PrefixStore, the same classes torch.distributed uses, so a PyTorch process can share a catface store.
// A store travels to JS as an External owning a reference.
#include "dist-async.h"
#include "dist-store.h"

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>

namespace catface {

int64_t NonNegativeInt(Napi::Env env, const Napi::Value& v, const std::string& what) {
  int64_t n = -1;
  if (!v.IsNumber() || !ToInt64(v.As<Napi::Number>().DoubleValue(), &n) || n < 0)
    throw Napi::RangeError::New(env, what + " must be a non-negative integer");
  return n;
}

namespace {

using StorePtr = c10::intrusive_ptr<c10d::Store>;

Napi::Value WrapStore(Napi::Env env, StorePtr store) {
  return Napi::External<StorePtr>::New(env, new StorePtr(std::move(store)), [](Napi::Env, StorePtr* p) { delete p; });
}

std::string StringArg(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (!v.IsString()) throw Napi::TypeError::New(env, what + " must be a string");
  return v.As<Napi::String>();
}

std::vector<uint8_t> BytesArg(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (!v.IsTypedArray()) throw Napi::TypeError::New(env, what + " must be a Uint8Array");
  Napi::TypedArray view = v.As<Napi::TypedArray>();
  const uint8_t* src = static_cast<const uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset();
  return std::vector<uint8_t>(src, src + view.ByteLength());
}

// tcpStore(host, port, worldSize, isServer, timeoutMs) -> Promise<store>. The server waits for every rank.
Napi::Value TcpStore(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string host = StringArg(env, info[0], "tcpStore: host");
  const int64_t port = NonNegativeInt(env, info[1], "tcpStore: port");
  if (port > 65535) throw Napi::RangeError::New(env, "tcpStore: port must be at most 65535");
  c10d::TCPStoreOptions opts;
  opts.port = static_cast<uint16_t>(port);
  opts.numWorkers = static_cast<size_t>(NonNegativeInt(env, info[2], "tcpStore: worldSize"));
  opts.isServer = info[3].ToBoolean();
  opts.timeout = std::chrono::milliseconds(NonNegativeInt(env, info[4], "tcpStore: timeoutMs"));
  opts.multiTenant = true;  // as torch.distributed's env:// rendezvous creates it
  const std::string where = "TCPStore " + host + ":" + std::to_string(port) + (opts.isServer ? " (server)" : "");
  return PoolTask<StorePtr>::Run(
      env, where, [host, opts] { return StorePtr(c10::make_intrusive<c10d::TCPStore>(host, opts)); },
      [](Napi::Env e, StorePtr& s) { return WrapStore(e, s); });
}

// fileStore(path, worldSize) -> store. Opening a file does not wait on other ranks.
Napi::Value FileStore(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string path = StringArg(env, info[0], "fileStore: path");
  const int64_t n = NonNegativeInt(env, info[1], "fileStore: worldSize");
  return Guarded(env, "FileStore " + path,
                 [&] { return WrapStore(env, c10::make_intrusive<c10d::FileStore>(path, static_cast<int>(n))); });
}

// prefixStore(prefix, store) -> store whose keys are "<prefix>/<key>" in the underlying one.
Napi::Value PrefixStore(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string prefix = StringArg(env, info[0], "prefixStore: prefix");
  StorePtr inner = GetStore(env, info[1], "prefixStore");
  return WrapStore(env, c10::make_intrusive<c10d::PrefixStore>(prefix, inner));
}

Napi::Value StoreSet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  StorePtr s = GetStore(env, info[0], "store.set");
  const std::string key = StringArg(env, info[1], "store.set: key");
  std::vector<uint8_t> value = BytesArg(env, info[2], "store.set: value");
  return PoolTask<bool>::Run(
      env, "store.set('" + key + "')", [s, key, value] { s->set(key, value); return true; },
      [](Napi::Env e, bool&) { return e.Undefined(); });
}

// get waits (up to the store's timeout) until the key exists.
Napi::Value StoreGet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  StorePtr s = GetStore(env, info[0], "store.get");
  const std::string key = StringArg(env, info[1], "store.get: key");
  return PoolTask<std::vector<uint8_t>>::Run(
      env, "store.get('" + key + "')", [s, key] { return s->get(key); },
      [](Napi::Env e, std::vector<uint8_t>& v) -> Napi::Value {
        return Napi::Buffer<uint8_t>::Copy(e, v.data(), v.size());
      });
}

Napi::Value StoreAdd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  StorePtr s = GetStore(env, info[0], "store.add");
  const std::string key = StringArg(env, info[1], "store.add: key");
  int64_t delta = 0;
  if (!info[2].IsNumber() || !ToInt64(info[2].As<Napi::Number>().DoubleValue(), &delta))
    throw Napi::RangeError::New(env, "store.add: amount must be an integer");
  return PoolTask<int64_t>::Run(
      env, "store.add('" + key + "')", [s, key, delta] { return s->add(key, delta); },
      [](Napi::Env e, int64_t& v) -> Napi::Value { return Napi::Number::New(e, static_cast<double>(v)); });
}

Napi::Value StoreSetTimeout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  StorePtr s = GetStore(env, info[0], "store.setTimeout");
  s->setTimeout(std::chrono::milliseconds(NonNegativeInt(env, info[1], "store.setTimeout: timeoutMs")));
  return env.Undefined();
}

}  // namespace

c10::intrusive_ptr<c10d::Store> GetStore(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (!v.IsExternal()) throw Napi::TypeError::New(env, what + ": expected a store");
  return *v.As<Napi::External<StorePtr>>().Data();
}

void InitDistStore(Napi::Env env, Napi::Object exports) {
  exports.Set("tcpStore", Napi::Function::New(env, TcpStore, "tcpStore"));
  exports.Set("fileStore", Napi::Function::New(env, FileStore, "fileStore"));
  exports.Set("prefixStore", Napi::Function::New(env, PrefixStore, "prefixStore"));
  exports.Set("storeSet", Napi::Function::New(env, StoreSet, "storeSet"));
  exports.Set("storeGet", Napi::Function::New(env, StoreGet, "storeGet"));
  exports.Set("storeAdd", Napi::Function::New(env, StoreAdd, "storeAdd"));
  exports.Set("storeSetTimeout", Napi::Function::New(env, StoreSetTimeout, "storeSetTimeout"));
}

}  // namespace catface
