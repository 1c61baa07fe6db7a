#include "backend/msr/msr_handlers.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "backend/msr/msr_text.h"
#include "backend/rpc/error_details.h"

namespace vmd::msr {

uint64_t CoreThreadCountValue(const MsrTopology& topology) {
  return (uint64_t{topology.cores & 0xffff} << 16) | (topology.threads & 0xffff);
}

v1::MsrHandler::WriteAction EffectiveWriteAction(v1::MsrHandler::WriteAction write) {
  return write == v1::MsrHandler::WRITE_ACTION_UNSPECIFIED ? v1::MsrHandler::WRITE_ACTION_GP : write;
}

MsrHandlers::MsrHandlers(size_t size, uint64_t topology_value)
    : slots_(std::make_unique<Slot[]>(size)), size_(size), topology_value_(topology_value) {}

absl::StatusOr<std::unique_ptr<MsrHandlers>> MsrHandlers::Create(const std::vector<v1::MsrHandler>& handlers,
                                                                 const MsrTopology& topology) {
  std::unique_ptr<MsrHandlers> out(new MsrHandlers(handlers.size(), CoreThreadCountValue(topology)));
  for (size_t i = 0; i < handlers.size(); ++i) {
    const v1::MsrHandler& h = handlers[i];
    if (i > 0 && h.index() <= handlers[i - 1].index()) {
      return rpc::InvalidField(absl::StrCat("handlers[", i, "]"),
                               absl::StrCat("MSR ", MsrHex(h.index()), " out of order or duplicate"));
    }
    if (h.read() == v1::MsrHandler::READ_SOURCE_UNSPECIFIED || !v1::MsrHandler::ReadSource_IsValid(h.read())) {
      return rpc::InvalidField(absl::StrCat("handlers[", i, "].read"), "must be set");
    }
    if (!v1::MsrHandler::WriteAction_IsValid(h.write())) {
      return rpc::InvalidField(absl::StrCat("handlers[", i, "].write"), absl::StrCat("undefined value ", h.write()));
    }
    Slot& slot = out->slots_[i];
    slot.index = h.index();
    slot.read = h.read();
    slot.write = EffectiveWriteAction(h.write());
    slot.constant = h.constant();
    slot.stored.store(h.constant(), std::memory_order_relaxed);
  }
  return out;
}

std::optional<uint32_t> MsrHandlers::SlotOf(uint32_t index) const {
  const Slot* begin = slots_.get();
  const Slot* end = begin + size_;
  const Slot* it = std::lower_bound(begin, end, index, [](const Slot& s, uint32_t i) { return s.index < i; });
  if (it == end || it->index != index) return std::nullopt;
  return static_cast<uint32_t>(it - begin);
}

MsrAccessResult MsrHandlers::Read(uint32_t slot) const {
  if (slot >= size_) return MsrAccessResult::Gp();
  const Slot& s = slots_[slot];
  switch (s.read) {
    case v1::MsrHandler::READ_SOURCE_CONSTANT:
      return MsrAccessResult::Value(s.constant);
    case v1::MsrHandler::READ_SOURCE_TOPOLOGY:
      return MsrAccessResult::Value(topology_value_);
    case v1::MsrHandler::READ_SOURCE_LAST_WRITTEN:
      return MsrAccessResult::Value(s.stored.load(std::memory_order_relaxed));
    default:
      return MsrAccessResult::Gp();
  }
}

MsrAccessResult MsrHandlers::Write(uint32_t slot, uint64_t value) {
  if (slot >= size_) return MsrAccessResult::Gp();
  Slot& s = slots_[slot];
  switch (s.write) {
    case v1::MsrHandler::WRITE_ACTION_IGNORE:
      return MsrAccessResult::Value(0);
    case v1::MsrHandler::WRITE_ACTION_STORE:
      s.stored.store(value, std::memory_order_relaxed);
      return MsrAccessResult::Value(0);
    case v1::MsrHandler::WRITE_ACTION_ONLY_CONSTANT:
      return value == s.constant ? MsrAccessResult::Value(0) : MsrAccessResult::Gp();
    default:
      return MsrAccessResult::Gp();
  }
}

void MsrHandlers::CarryOverFrom(const MsrHandlers& previous) {
  for (size_t i = 0; i < size_; ++i) {
    Slot& s = slots_[i];
    if (s.write != v1::MsrHandler::WRITE_ACTION_STORE) continue;
    const std::optional<uint32_t> old = previous.SlotOf(s.index);
    if (!old.has_value() || previous.slots_[*old].write != v1::MsrHandler::WRITE_ACTION_STORE) continue;
    s.stored.store(previous.slots_[*old].stored.load(std::memory_order_relaxed), std::memory_order_relaxed);
  }
}

std::map<uint32_t, uint64_t> MsrHandlers::StoredValues() const {
  std::map<uint32_t, uint64_t> values;
  for (size_t i = 0; i < size_; ++i) {
    if (slots_[i].write == v1::MsrHandler::WRITE_ACTION_STORE) {
      values[slots_[i].index] = slots_[i].stored.load(std::memory_order_relaxed);
    }
  }
  return values;
}

void MsrHandlers::SetStoredValues(const std::map<uint32_t, uint64_t>& values) {
  for (size_t i = 0; i < size_; ++i) {
    auto it = values.find(slots_[i].index);
    if (it != values.end() && slots_[i].write == v1::MsrHandler::WRITE_ACTION_STORE) {
      slots_[i].stored.store(it->second, std::memory_order_relaxed);
    }
  }
}

}  // namespace vmd::msr
