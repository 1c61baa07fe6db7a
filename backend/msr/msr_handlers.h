// Per-VM user-space MSR emulation: the state behind the EMULATE'd MSRs of a
// policy (msr.proto MsrHandler). vCPU threads call Read/Write concurrently;
// each handler's stored value is one atomic word, so no lock is taken.
#ifndef VMD_BACKEND_MSR_MSR_HANDLERS_H_
#define VMD_BACKEND_MSR_MSR_HANDLERS_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "vmd/v1/msr.pb.h"

namespace vmd::msr {

// The VM's topology as MSR_CORE_THREAD_COUNT (0x35) reports it: cores and
// logical processors (threads) of the package. Each must fit 16 bits.
struct MsrTopology {
  uint32_t cores = 1;
  uint32_t threads = 1;
};

// MSR_CORE_THREAD_COUNT layout: cores in [31:16], threads in [15:0].
uint64_t CoreThreadCountValue(const MsrTopology& topology);

// A handler's write action with the default applied: unset means GP
// (msr.proto). The one place that default lives.
v1::MsrHandler::WriteAction EffectiveWriteAction(v1::MsrHandler::WriteAction write);

// What the guest gets: the value read (ignored for writes) or a #GP.
struct MsrAccessResult {
  bool gp = false;
  uint64_t value = 0;

  static MsrAccessResult Value(uint64_t value) { return {false, value}; }
  static MsrAccessResult Gp() { return {true, 0}; }
  friend bool operator==(const MsrAccessResult&, const MsrAccessResult&) = default;
};

class MsrHandlers {
 public:
  // `handlers` in slot order (CompiledMsrPolicy::handlers: sorted by index,
  // unique, read set, validated by CompileMsrPolicy). Refuses what
  // is not so with INVALID_ARGUMENT.
  static absl::StatusOr<std::unique_ptr<MsrHandlers>> Create(const std::vector<v1::MsrHandler>& handlers,
                                                             const MsrTopology& topology);

  MsrHandlers(const MsrHandlers&) = delete;
  MsrHandlers& operator=(const MsrHandlers&) = delete;

  size_t size() const { return size_; }
  // The slot of the handler for `index`, if any (binary search).
  std::optional<uint32_t> SlotOf(uint32_t index) const;
  uint32_t IndexOf(uint32_t slot) const { return slots_[slot].index; }

  // RDMSR: CONSTANT → constant; TOPOLOGY → CoreThreadCountValue; LAST_WRITTEN
  // → the last value stored (initially constant); GP → #GP.
  MsrAccessResult Read(uint32_t slot) const;
  // WRMSR: IGNORE → accepted, dropped; STORE → kept for LAST_WRITTEN reads;
  // ONLY_CONSTANT → accepted if equal to constant, else #GP; GP → #GP.
  MsrAccessResult Write(uint32_t slot, uint64_t value);

  // After a policy change: takes over the stored value of every MSR that
  // both handler sets store, so a guest does not see a STOREd MSR reset.
  void CarryOverFrom(const MsrHandlers& previous);

  // The values STORE handlers hold, by MSR index (a snapshot); and putting
  // them back (a restore). Values of MSRs without a STORE handler are
  // ignored.
  std::map<uint32_t, uint64_t> StoredValues() const;
  void SetStoredValues(const std::map<uint32_t, uint64_t>& values);

 private:
  struct Slot {
    uint32_t index = 0;
    v1::MsrHandler::ReadSource read = v1::MsrHandler::READ_SOURCE_GP;
    v1::MsrHandler::WriteAction write = v1::MsrHandler::WRITE_ACTION_GP;
    uint64_t constant = 0;
    std::atomic<uint64_t> stored{0};
  };

  MsrHandlers(size_t size, uint64_t topology_value);

  std::unique_ptr<Slot[]> slots_;
  size_t size_ = 0;
  uint64_t topology_value_ = 0;
};

}  // namespace vmd::msr

#endif  // VMD_BACKEND_MSR_MSR_HANDLERS_H_
