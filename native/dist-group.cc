// c10d process groups and their collectives. A collective is enqueued on the JS thread (so every rank issues
// them in program order, as c10d requires) and returns a work handle; waiting for it happens on libuv's pool
// (`workWait`) or, inside synchronous code such as a loss's forward, on the JS thread (`workWaitSync`).
// Failures name the collective, its number in this group and the rank: "allReduce #12 on rank 1 of 2 (gloo): …".
#include "dist-async.h"
#include "dist-reducer.h"
#include "dist-store.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/functions/utils.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#ifdef CATFACE_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <cstdlib>

namespace catface {

namespace {

struct GroupBox {
  c10::intrusive_ptr<c10d::ProcessGroup> group;
  std::string backend;
  uint64_t issued = 0;  // collectives issued so far, to name one in errors
};
using GroupPtr = std::shared_ptr<GroupBox>;

struct WorkBox {
  c10::intrusive_ptr<c10d::Work> work;
  std::string what;
  // c10d keeps references to these until the work completes; holding them here makes that explicit.
  std::vector<at::Tensor> inputs;
  std::vector<std::vector<at::Tensor>> outputs;
};
using WorkPtr = std::shared_ptr<WorkBox>;

Napi::Value WrapGroup(Napi::Env env, GroupPtr g) {
  return Napi::External<GroupPtr>::New(env, new GroupPtr(std::move(g)), [](Napi::Env, GroupPtr* p) { delete p; });
}

GroupPtr GetGroup(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (!v.IsExternal()) throw Napi::TypeError::New(env, what + ": expected a process group");
  GroupPtr g = *v.As<Napi::External<GroupPtr>>().Data();
  if (!g->group) throw Napi::Error::New(env, what + ": the process group was destroyed");
  return g;
}

WorkPtr GetWork(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (!v.IsExternal()) throw Napi::TypeError::New(env, what + ": expected a work handle");
  return *v.As<Napi::External<WorkPtr>>().Data();
}

std::string Name(GroupBox& g, const std::string& collective) {
  return collective + " #" + std::to_string(++g.issued) + " on rank " + std::to_string(g.group->getRank()) + " of " +
         std::to_string(g.group->getSize()) + " (" + g.backend + ")";
}

std::vector<at::Tensor> TensorList(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (!v.IsArray()) throw Napi::TypeError::New(env, what + ": expected an array of tensors");
  Napi::Array arr = v.As<Napi::Array>();
  std::vector<at::Tensor> out;
  for (uint32_t i = 0; i < arr.Length(); ++i) out.push_back(GetTensor(env, arr.Get(i), what + "[" + std::to_string(i) + "]"));
  return out;
}

// Issues a collective: `issue` enqueues it on the box's group; errors at issue time name it the same way.
template <typename Issue>
Napi::Value Start(Napi::Env env, GroupPtr g, WorkPtr box, const std::string& collective, Issue&& issue) {
  box->what = Name(*g, collective);
  Guarded(env, box->what, [&] { box->work = issue(*g->group, *box); });
  return Napi::External<WorkPtr>::New(env, new WorkPtr(std::move(box)), [](Napi::Env, WorkPtr* p) { delete p; });
}

c10d::ReduceOp ParseReduceOp(Napi::Env env, const Napi::Value& v) {
  const std::string s = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  static const std::pair<const char*, c10d::ReduceOp::RedOpType> kOps[] = {
      {"sum", c10d::ReduceOp::SUM}, {"product", c10d::ReduceOp::PRODUCT}, {"min", c10d::ReduceOp::MIN},
      {"max", c10d::ReduceOp::MAX}, {"band", c10d::ReduceOp::BAND},       {"bor", c10d::ReduceOp::BOR},
      {"bxor", c10d::ReduceOp::BXOR}};
  for (const auto& [name, op] : kOps)
    if (s == name) return c10d::ReduceOp(op);
  throw Napi::TypeError::New(env, "allReduce: op must be one of sum, product, min, max, band, bor, bxor; got '" + s + "'");
}

// glooGroup(store, rank, size, timeoutMs) -> Promise<group>: connects to every other rank (the rendezvous).
Napi::Value GlooGroup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto store = GetStore(env, info[0], "glooGroup");
  const int rank = static_cast<int>(NonNegativeInt(env, info[1], "glooGroup: rank"));
  const int size = static_cast<int>(NonNegativeInt(env, info[2], "glooGroup: worldSize"));
  const auto timeout = std::chrono::milliseconds(NonNegativeInt(env, info[3], "glooGroup: timeoutMs"));
  if (size < 1 || rank >= size)
    throw Napi::RangeError::New(env, "glooGroup: rank " + std::to_string(rank) + " is not in a world of " + std::to_string(size));
  return PoolTask<GroupPtr>::Run(
      env, "Gloo process group (rank " + std::to_string(rank) + " of " + std::to_string(size) + ")",
      [store, rank, size, timeout] {
        auto options = c10d::ProcessGroupGloo::Options::create(timeout);
        // as torch.distributed does: GLOO_SOCKET_IFNAME names the interfaces, else the hostname's address
        if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME")) {
          std::string names = ifname;
          for (size_t start = 0; start <= names.size();) {
            size_t comma = names.find(',', start);
            if (comma == std::string::npos) comma = names.size();
            if (comma > start)
              options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(names.substr(start, comma - start)));
            start = comma + 1;
          }
        }
        if (options->devices.empty()) options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
        options->threads = static_cast<int>(options->devices.size()) * 2;
        auto box = std::make_shared<GroupBox>();
        box->group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, size, options);
        box->backend = "gloo";
        return box;
      },
      [](Napi::Env e, GroupPtr& g) { return WrapGroup(e, g); });
}

#ifdef CATFACE_WITH_NCCL
// ncclGroup(store, rank, size, timeoutMs) -> Promise<group>; tensors must be on this rank's CUDA device.
Napi::Value NcclGroup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto store = GetStore(env, info[0], "ncclGroup");
  const int rank = static_cast<int>(NonNegativeInt(env, info[1], "ncclGroup: rank"));
  const int size = static_cast<int>(NonNegativeInt(env, info[2], "ncclGroup: worldSize"));
  const auto timeout = std::chrono::milliseconds(NonNegativeInt(env, info[3], "ncclGroup: timeoutMs"));
  return PoolTask<GroupPtr>::Run(
      env, "NCCL process group (rank " + std::to_string(rank) + " of " + std::to_string(size) + ")",
      [store, rank, size, timeout] {
        auto options = c10d::ProcessGroupNCCL::Options::create();
        options->timeout = timeout;
        auto box = std::make_shared<GroupBox>();
        box->group = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, options);
        box->backend = "nccl";
        return box;
      },
      [](Napi::Env e, GroupPtr& g) { return WrapGroup(e, g); });
}
#endif

// The sequence number torch.distributed agrees on right after init (rank 0 writes it to the store).
Napi::Value GroupAgreeSequence(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GroupPtr g = GetGroup(env, info[0], "setSequenceNumberForGroup");
  return PoolTask<bool>::Run(
      env, "setSequenceNumberForGroup", [g] { g->group->setSequenceNumberForGroup(); return true; },
      [](Napi::Env e, bool&) { return e.Undefined(); });
}

Napi::Value GroupInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GroupPtr g = GetGroup(env, info[0], "groupInfo");
  Napi::Object out = Napi::Object::New(env);
  out.Set("rank", g->group->getRank());
  out.Set("size", g->group->getSize());
  out.Set("backend", g->backend);
  return out;
}

// destroyGroup(group): drops this reference; c10d finishes queued work and closes the connections.
Napi::Value DestroyGroup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsExternal()) throw Napi::TypeError::New(env, "destroyGroup: expected a process group");
  GroupPtr g = *info[0].As<Napi::External<GroupPtr>>().Data();
  g->group.reset();
  return env.Undefined();
}

// allReduce(group, tensors, op, name?) -> work; in place. `name` names a collective built on it in errors.
Napi::Value AllReduce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GroupPtr g = GetGroup(env, info[0], "allReduce");
  auto box = std::make_shared<WorkBox>();
  box->inputs = TensorList(env, info[1], "allReduce");
  c10d::AllreduceOptions opts;
  opts.reduceOp = ParseReduceOp(env, info[2]);
  const std::string name = info[3].IsString() ? info[3].As<Napi::String>().Utf8Value() : "allReduce";
  return Start(env, g, box, name, [&](c10d::ProcessGroup& pg, WorkBox& b) { return pg.allreduce(b.inputs, opts); });
}

// broadcast(group, tensors, root) -> work; in place.
Napi::Value Broadcast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GroupPtr g = GetGroup(env, info[0], "broadcast");
  auto box = std::make_shared<WorkBox>();
  box->inputs = TensorList(env, info[1], "broadcast");
  c10d::BroadcastOptions opts;
  opts.rootRank = NonNegativeInt(env, info[2], "broadcast: src");
  return Start(env, g, box, "broadcast", [&](c10d::ProcessGroup& pg, WorkBox& b) { return pg.broadcast(b.inputs, opts); });
}

// allGather(group, outputs (one per rank), input) -> work.
Napi::Value AllGather(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GroupPtr g = GetGroup(env, info[0], "allGather");
  auto box = std::make_shared<WorkBox>();
  box->outputs.push_back(TensorList(env, info[1], "allGather: outputs"));
  box->inputs.push_back(GetTensor(env, info[2], "allGather: input"));
  return Start(env, g, box, "allGather", [&](c10d::ProcessGroup& pg, WorkBox& b) { return pg.allgather(b.outputs, b.inputs); });
}

Napi::Value Barrier(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GroupPtr g = GetGroup(env, info[0], "barrier");
  return Start(env, g, std::make_shared<WorkBox>(), "barrier", [&](c10d::ProcessGroup& pg, WorkBox&) { return pg.barrier(); });
}

// The sum over ranks of a copy of `t`, synchronously (blocks the calling thread until every rank has sent its part).
at::Tensor SummedOverRanks(GroupBox& g, const at::Tensor& t, const std::string& collective) {
  std::vector<at::Tensor> parts{t.detach().contiguous().clone()};
  c10d::AllreduceOptions opts;
  opts.reduceOp = c10d::ReduceOp(c10d::ReduceOp::SUM);
  const std::string what = Name(g, collective);
  try {
    g.group->allreduce(parts, opts)->wait();
  } catch (const c10::Error& e) {
    throw std::runtime_error(what + ": " + e.what_without_backtrace());
  }
  return parts[0];
}

// The backward of sumOverRanks: the output on every rank depends on every rank's input, so the gradient reaching
// an input is the sum over ranks of the output's gradients (torch's SyncBatchNorm all-reduces its backward the same way).
struct SumOverRanksBackward : public torch::autograd::Node {
  GroupPtr group;
  explicit SumOverRanksBackward(GroupPtr g) : group(std::move(g)) {}
  torch::autograd::variable_list apply(torch::autograd::variable_list&& grads) override {
    if (!group->group) throw std::runtime_error("sumOverRanks backward: the process group was destroyed");
    // every rank runs the same backward, so every rank takes this all-reduce (an undefined gradient counts as zeros)
    const at::Tensor grad = grads[0].defined() ? grads[0] : input_metadata(0).zeros_like();
    return {SummedOverRanks(*group, grad, "sumOverRanks backward")};
  }
  std::string name() const override { return "SumOverRanksBackward"; }
};

// sumOverRanks(group, tensor) -> tensor: a new tensor, the sum over ranks of `tensor`, that autograd
// differentiates (its backward all-reduces the incoming gradient). Synchronous, for a forward pass.
Napi::Value SumOverRanks(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GroupPtr g = GetGroup(env, info[0], "sumOverRanks");
  const at::Tensor& input = GetTensor(env, info[1], "sumOverRanks");
  at::Tensor out = Guarded(env, "sumOverRanks", [&] {
    at::Tensor sum;
    {
      at::NoGradGuard no_grad;
      sum = SummedOverRanks(*g, input, "sumOverRanks");
    }
    if (input.requires_grad() && at::GradMode::is_enabled()) {
      auto node = std::shared_ptr<SumOverRanksBackward>(new SumOverRanksBackward(g), torch::autograd::deleteNode);
      node->set_next_edges(torch::autograd::collect_next_edges(input));
      torch::autograd::set_history(sum, node);
    }
    return sum;
  });
  return Napi::Value(env, NewHandle(env, State(env), std::move(out)));
}

// workWait(work) -> Promise<void>, settled from libuv's pool.
Napi::Value WorkWait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  WorkPtr w = GetWork(env, info[0], "wait");
  return PoolTask<bool>::Run(
      env, w->what, [w] { w->work->wait(); return true; }, [](Napi::Env e, bool&) { return e.Undefined(); });
}

// workWaitSync(work): blocks the JS thread (for synchronous code such as a loss's forward).
Napi::Value WorkWaitSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  WorkPtr w = GetWork(env, info[0], "waitSync");
  Guarded(env, w->what, [&] { w->work->wait(); });
  return env.Undefined();
}

Napi::Value WorkDone(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Napi::Boolean::New(env, GetWork(env, info[0], "isCompleted")->work->isCompleted());
}

}  // namespace

c10::intrusive_ptr<c10d::ProcessGroup> ProcessGroupOf(Napi::Env env, const Napi::Value& v, const std::string& what) {
  return GetGroup(env, v, what)->group;
}

void InitDistGroup(Napi::Env env, Napi::Object exports) {
  exports.Set("glooGroup", Napi::Function::New(env, GlooGroup, "glooGroup"));
#ifdef CATFACE_WITH_NCCL
  exports.Set("ncclGroup", Napi::Function::New(env, NcclGroup, "ncclGroup"));
#endif
  exports.Set("groupAgreeSequence", Napi::Function::New(env, GroupAgreeSequence, "groupAgreeSequence"));
  exports.Set("groupInfo", Napi::Function::New(env, GroupInfo, "groupInfo"));
  exports.Set("destroyGroup", Napi::Function::New(env, DestroyGroup, "destroyGroup"));
  exports.Set("allReduce", Napi::Function::New(env, AllReduce, "allReduce"));
  exports.Set("broadcast", Napi::Function::New(env, Broadcast, "broadcast"));
  exports.Set("allGather", Napi::Function::New(env, AllGather, "allGather"));
  exports.Set("barrier", Napi::Function::New(env, Barrier, "barrier"));
  exports.Set("sumOverRanks", Napi::Function::New(env, SumOverRanks, "sumOverRanks"));
  exports.Set("workWait", Napi::Function::New(env, WorkWait, "workWait"));
  exports.Set("workWaitSync", Napi::Function::New(env, WorkWaitSync, "workWaitSync"));
  exports.Set("workDone", Napi::Function::New(env, WorkDone, "workDone"));
}

}  // namespace catface
