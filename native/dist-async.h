// Blocking c10d calls (store round trips, the Gloo rendezvous, waiting on a collective) run on libuv's thread
// pool and settle a promise, so the JS thread never waits on the network.
#pragma once

#include "common.h"

#include <functional>

namespace catface {

// Runs `work` on the pool; `done` turns its result into a JS value on the JS thread. Errors reject the promise
// with `context: <c10d message>`.
template <typename Result>
class PoolTask : public Napi::AsyncWorker {
 public:
  PoolTask(Napi::Env env, std::string context, std::function<Result()> work,
           std::function<Napi::Value(Napi::Env, Result&)> done)
      : Napi::AsyncWorker(env), context_(std::move(context)), work_(std::move(work)), done_(std::move(done)),
        deferred_(Napi::Promise::Deferred::New(env)) {}

  static Napi::Promise Run(Napi::Env env, std::string context, std::function<Result()> work,
                           std::function<Napi::Value(Napi::Env, Result&)> done) {
    auto* task = new PoolTask(env, std::move(context), std::move(work), std::move(done));
    Napi::Promise p = task->deferred_.Promise();
    task->Queue();
    return p;
  }

  void Execute() override {
    try {
      result_ = work_();
    } catch (const c10::Error& e) {
      SetError(context_ + ": " + e.what_without_backtrace());
    } catch (const std::exception& e) {
      SetError(context_ + ": " + e.what());
    }
  }
  void OnOK() override {
    try {
      deferred_.Resolve(done_(Env(), result_));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  std::string context_;
  std::function<Result()> work_;
  std::function<Napi::Value(Napi::Env, Result&)> done_;
  Napi::Promise::Deferred deferred_;
  Result result_{};
};

// A JS number argument as a non-negative integer, or a RangeError naming it.
int64_t NonNegativeInt(Napi::Env env, const Napi::Value& v, const std::string& what);

void InitDistStore(Napi::Env env, Napi::Object exports);
void InitDistGroup(Napi::Env env, Napi::Object exports);

}  // namespace catface
