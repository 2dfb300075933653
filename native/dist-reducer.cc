// libtorch's c10d::Reducer (the engine under PyTorch's DistributedDataParallel) for a list of parameters: it
// registers a post-hook on each parameter's gradient accumulator, copies each gradient ÷ world size into its
// bucket as autograd produces it, and all-reduces a bucket as soon as all its gradients are in, so Gloo sums
// early buckets while backward still computes the later ones; at the end of backward it waits for the buckets
// and writes the averages into the parameters' .grad. Buckets as DDP makes them: parameters in reverse order,
// the first bucket ≤ 1 MiB, the others ≤ bucketBytes, rebuilt once after the first step in the order the
// gradients arrived.
#include "dist-reducer.h"
#include "dist-async.h"

#include <torch/csrc/autograd/functions/accumulate_grad.h>
#include <torch/csrc/distributed/c10d/logger.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>

#include <algorithm>
#include <unordered_set>

namespace catface {

namespace {

struct ReducerBox {
  std::shared_ptr<c10d::Reducer> reducer;
  // the reducer logs through it unchecked (e.g. when the set of unused parameters changes), as DDP sets it up
  std::shared_ptr<c10d::Logger> logger;
  c10::intrusive_ptr<c10d::ProcessGroup> group;
  std::vector<at::Tensor> params;
  bool find_unused = false;
};
using ReducerPtr = std::shared_ptr<ReducerBox>;

ReducerPtr GetReducer(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (!v.IsExternal()) throw Napi::TypeError::New(env, what + ": expected a gradient reducer");
  ReducerPtr r = *v.As<Napi::External<ReducerPtr>>().Data();
  if (!r->reducer) throw Napi::Error::New(env, what + ": the gradient reducer was disposed");
  return r;
}

// How many of `params` the graph behind `loss` does not reach (no gradient this backward), as DDP's search for
// unused parameters walks it.
int64_t CountUnreached(const at::Tensor& loss, const std::vector<at::Tensor>& params) {
  std::unordered_set<torch::autograd::Node*> seen;
  std::vector<torch::autograd::Node*> stack;
  if (auto fn = loss.grad_fn()) {
    seen.insert(fn.get());
    stack.push_back(fn.get());
  }
  while (!stack.empty()) {
    torch::autograd::Node* node = stack.back();
    stack.pop_back();
    for (const auto& edge : node->next_edges())
      if (edge.function && seen.insert(edge.function.get()).second) stack.push_back(edge.function.get());
  }
  int64_t unreached = 0;
  for (const auto& p : params) {
    auto acc = torch::autograd::impl::try_get_grad_accumulator(p);
    if (!acc || seen.count(acc.get()) == 0) ++unreached;
  }
  return unreached;
}

// reducerNew(group, params, bucketBytes, findUnused) -> reducer. A collective (every rank checks that all ranks
// hold parameters of the same shapes), so every rank creates its reducers in the same order.
Napi::Value ReducerNew(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto box = std::make_shared<ReducerBox>();
  box->group = ProcessGroupOf(env, info[0], "GradientReducer");
  if (!info[1].IsArray()) throw Napi::TypeError::New(env, "GradientReducer: expected an array of parameters");
  Napi::Array arr = info[1].As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); ++i)
    box->params.push_back(GetTensor(env, arr.Get(i), "GradientReducer: parameter " + std::to_string(i)));
  const int64_t bucket_bytes = NonNegativeInt(env, info[2], "GradientReducer: bucketBytes");
  box->find_unused = info[3].ToBoolean();
  if (box->params.empty()) throw Napi::RangeError::New(env, "GradientReducer: no parameters to average");
  for (size_t i = 0; i < box->params.size(); ++i)
    if (!box->params[i].requires_grad() || !box->params[i].is_leaf())
      throw Napi::RangeError::New(env, "GradientReducer: parameter " + std::to_string(i) + " (" + Describe(box->params[i]) +
                                           ") is not a leaf that requires grad");
  Guarded(env, "GradientReducer", [&] {
    c10d::verify_params_across_processes(box->group, box->params, c10::nullopt);
    const std::vector<bool> dense(box->params.size(), false);
    // as DistributedDataParallel: sized in forward order, then reversed (gradients arrive roughly backwards)
    auto [buckets, limits] = c10d::compute_bucket_assignment_by_size(
        box->params, {static_cast<size_t>(c10d::kDefaultFirstBucketBytes), static_cast<size_t>(bucket_bytes)}, dense);
    std::reverse(buckets.begin(), buckets.end());
    std::reverse(limits.begin(), limits.end());
    box->reducer = std::make_shared<c10d::Reducer>(box->params, std::move(buckets), std::move(limits), box->group, dense,
                                                   bucket_bytes, box->find_unused, /*gradient_as_bucket_view=*/false,
                                                   std::unordered_map<size_t, std::string>{},
                                                   static_cast<int64_t>(c10d::kDefaultFirstBucketBytes));
    box->logger = std::make_shared<c10d::Logger>(box->reducer);
    box->reducer->set_logger(box->logger);
  });
  return Napi::External<ReducerPtr>::New(env, new ReducerPtr(std::move(box)), [](Napi::Env, ReducerPtr* p) { delete p; });
}

// reducerPrepare(reducer, loss) -> bool: arms the reducer for the backward of `loss` (true), or false when, on
// some rank, a parameter gets no gradient from it and the reducer was made without findUnused: its last bucket
// would never fill, so that backward must be averaged the old way. Every rank learns the same answer (a max
// over ranks), so all take the same path. Rebuilds the buckets once, after the first step, as DDP does.
Napi::Value ReducerPrepare(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ReducerPtr r = GetReducer(env, info[0], "GradientReducer.prepare");
  const at::Tensor loss = GetTensor(env, info[1], "GradientReducer.prepare(loss)");
  return Guarded(env, "GradientReducer.prepare", [&] {
    if (!r->find_unused) {
      at::Tensor flag = at::full({1}, CountUnreached(loss, r->params), at::kLong);
      if (r->group->getSize() > 1) {
        std::vector<at::Tensor> flags{flag};
        r->group->allreduce(flags, c10d::AllreduceOptions{c10d::ReduceOp::MAX})->wait();
      }
      if (flag.item<int64_t>() > 0) return Napi::Boolean::New(env, false);
    }
    r->reducer->rebuild_buckets();
    r->reducer->prepare_for_forward();
    r->reducer->prepare_for_backward({loss});
    return Napi::Boolean::New(env, true);
  });
}

// reducerBuckets(reducer) -> the bytes of each bucket, in reduction order.
Napi::Value ReducerBuckets(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ReducerPtr r = GetReducer(env, info[0], "GradientReducer.bucketBytes");
  auto buckets = Guarded(env, "GradientReducer.bucketBytes", [&] { return r->reducer->get_grad_buckets(true); });
  Napi::Array out = Napi::Array::New(env, buckets.size());
  for (size_t i = 0; i < buckets.size(); ++i) {
    const at::Tensor& b = buckets[i].getBufferRef();
    out.Set(i, static_cast<double>(b.numel() * b.element_size()));
  }
  return out;
}

// reducerDispose(reducer): removes the hooks and releases the parameters and buckets now.
Napi::Value ReducerDispose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsExternal()) throw Napi::TypeError::New(env, "GradientReducer.dispose: expected a gradient reducer");
  ReducerPtr r = *info[0].As<Napi::External<ReducerPtr>>().Data();
  Guarded(env, "GradientReducer.dispose", [&] {
    r->logger.reset();  // it holds the reducer too
    r->reducer.reset();
  });
  r->params.clear();
  r->group.reset();
  return env.Undefined();
}

}  // namespace

void InitDistReducer(Napi::Env env, Napi::Object exports) {
  exports.Set("reducerNew", Napi::Function::New(env, ReducerNew, "reducerNew"));
  exports.Set("reducerPrepare", Napi::Function::New(env, ReducerPrepare, "reducerPrepare"));
  exports.Set("reducerBuckets", Napi::Function::New(env, ReducerBuckets, "reducerBuckets"));
  exports.Set("reducerDispose", Napi::Function::New(env, ReducerDispose, "reducerDispose"));
}

}  // namespace catface
