// Shared declarations of the catface addon: the per-environment tensor table and value conversions.
#pragma once

#include <napi.h>
#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <vector>

namespace catface {

struct Op;  // an ATen operator with its converted schema (dispatch.cc)

// Handles per storage, keyed by the StorageImpl: an open-addressing table, so that counting a new result's
// storage allocates nothing (a std::unordered_map node was one malloc and one free per op).
class StorageTable {
 public:
  struct Entry {
    const void* key = nullptr;
    int64_t handles = 0;
    int64_t bytes = 0;
  };
  // The entry for `key`, new (zeroed counts) when *inserted; valid until the next insertion.
  Entry& FindOrInsert(const void* key, bool* inserted) {
    if ((size_ + 1) * 2 > table_.size()) Grow();
    size_t i = Hash(key) & Mask();
    for (; table_[i].key; i = (i + 1) & Mask())
      if (table_[i].key == key) {
        *inserted = false;
        return table_[i];
      }
    table_[i].key = key;
    ++size_;
    *inserted = true;
    return table_[i];
  }
  Entry* Find(const void* key) {
    for (size_t i = Hash(key) & Mask(); table_[i].key; i = (i + 1) & Mask())
      if (table_[i].key == key) return &table_[i];
    return nullptr;
  }
  // Removes `e` and shifts the entries of its probe run back, so lookups never need tombstones.
  void Erase(Entry* e) {
    size_t hole = static_cast<size_t>(e - table_.data());
    table_[hole] = Entry{};
    --size_;
    for (size_t j = (hole + 1) & Mask(); table_[j].key; j = (j + 1) & Mask()) {
      const size_t home = Hash(table_[j].key) & Mask();
      // Entry j may move into the hole unless its home lies cyclically in (hole, j].
      const bool stays = hole < j ? (home > hole && home <= j) : (home > hole || home <= j);
      if (stays) continue;
      table_[hole] = table_[j];
      table_[j] = Entry{};
      hole = j;
    }
  }

 private:
  static size_t Hash(const void* p) {
    uint64_t x = reinterpret_cast<uintptr_t>(p);
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    return static_cast<size_t>(x ^ (x >> 33));
  }
  size_t Mask() const { return table_.size() - 1; }
  void Grow() {
    std::vector<Entry> old(table_.size() * 2);
    old.swap(table_);
    size_ = 0;
    bool inserted = false;
    for (const Entry& e : old)
      if (e.key) {
        Entry& n = FindOrInsert(e.key, &inserted);
        n.handles = e.handles;
        n.bytes = e.bytes;
      }
  }
  std::vector<Entry> table_ = std::vector<Entry>(64);  // a power of two, at most half full
  size_t size_ = 0;
};

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

  std::vector<Slot> slots;
  std::vector<int32_t> free_slots;
  // V8 is told about each storage once, however many handles (views, in-place results, grads) share it, so
  // external memory equals what JS keeps alive and in-place ops cost no accounting.
  StorageTable storages;
  int64_t accounted = 0;  // the sum over `storages`, what V8 was told
  std::vector<std::shared_ptr<const Op>> ops;
  std::vector<c10::IValue> scratch;  // the argument stack of synchronous calls, reused (no allocation per op)
  bool scratch_busy = false;
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
