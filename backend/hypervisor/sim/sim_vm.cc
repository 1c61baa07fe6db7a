#include "backend/hypervisor/sim/sim_vm.h"

#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "backend/cpu/cpuid_builder.h"
#include "backend/hypervisor/sim/sim_cpu.h"
#include "backend/hypervisor/sim/sim_vcpu.h"
#include "backend/memory/guest_memory.h"

namespace vmd::hv {

SimVm::SimVm(const VmConfig& config, const cpu::HostProfile& profile)
    : config_(config), profile_(profile), base_cpuid_(SimBaseCpuid(profile)),
      irqfds_([this](uint32_t gsi) { DeliverGsi(gsi); }) {}

SimVm::~SimVm() = default;

absl::Status SimVm::MapMemory(GuestMemory& memory) {
  std::lock_guard lock(mu_);
  if (memory_ != nullptr) return absl::FailedPreconditionError("sim: the VM's guest memory is already mapped");
  memory_ = &memory;
  return absl::OkStatus();
}

absl::Status SimVm::SetDirtyLogging(bool enabled) {
  std::lock_guard lock(mu_);
  if (memory_ == nullptr) return absl::FailedPreconditionError("sim: dirty logging needs the guest memory mapped");
  if (!enabled) {
    dirty_.reset();
  } else if (!dirty_) {
    dirty_.emplace();
    for (const GuestMemory::Region& r : memory_->regions()) dirty_->AddRegion(r.gpa, r.size);
  }
  return absl::OkStatus();
}

absl::StatusOr<DirtyBitmap> SimVm::TakeDirtyLog() {
  std::lock_guard lock(mu_);
  if (!dirty_) return absl::FailedPreconditionError("sim: dirty logging is off");
  DirtyBitmap taken = std::move(*dirty_);
  dirty_.emplace();
  for (const GuestMemory::Region& r : memory_->regions()) dirty_->AddRegion(r.gpa, r.size);
  return taken;
}

void SimVm::MarkDirty(uint64_t gpa, uint64_t len) {
  std::lock_guard lock(mu_);
  if (dirty_) dirty_->MarkDirty(gpa, len);
}

absl::StatusOr<std::unique_ptr<Vcpu>> SimVm::CreateVcpu(uint32_t id) {
  GuestMemory* memory;
  cpu::CpuidTable base;
  {
    std::lock_guard lock(mu_);
    memory = memory_;
    base = base_cpuid_;
  }
  if (memory == nullptr) return absl::FailedPreconditionError("sim: map the guest memory before creating vCPUs");
  std::lock_guard lock(vcpus_mu_);
  if (id >= config_.vcpus) return absl::InvalidArgumentError(absl::StrCat("sim: vcpu id ", id, " >= vcpus ", config_.vcpus));
  if (vcpus_.contains(id)) return absl::AlreadyExistsError(absl::StrCat("sim: vcpu ", id, " exists"));
  auto vcpu = std::make_unique<SimVcpu>(*this, id, profile_,
                                        cpu::BuildVcpuCpuid(base, {.vcpu_id = id, .vcpus = config_.vcpus}, config_.cpuid),
                                        *memory);
  vcpus_[id] = vcpu.get();
  return vcpu;
}

void SimVm::Unregister(uint32_t id) {
  std::lock_guard lock(vcpus_mu_);
  vcpus_.erase(id);
}

void SimVm::Deliver(const MsiMessage& msi) {
  FixedMsiTarget target;
  if (!DecodeFixedMsi(msi, &target)) return;
  std::lock_guard lock(vcpus_mu_);
  if (auto it = vcpus_.find(target.dest_apic_id); it != vcpus_.end()) it->second->Interrupt(target.vector);
}

absl::Status SimVm::SignalMsi(const MsiMessage& msi) {
  FixedMsiTarget target;
  if (!DecodeFixedMsi(msi, &target)) {
    return absl::InvalidArgumentError("sim: only fixed-mode, edge-triggered, physical-destination MSIs are modelled");
  }
  Deliver(msi);
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> SimVm::AddMsiRoute(const MsiMessage& msi) {
  FixedMsiTarget target;
  if (!DecodeFixedMsi(msi, &target)) {
    return absl::InvalidArgumentError("sim: only fixed-mode, edge-triggered, physical-destination MSIs are modelled");
  }
  std::lock_guard lock(mu_);
  uint32_t gsi = kFirstMsiGsi;
  while (msi_routes_.contains(gsi)) ++gsi;
  if (gsi >= kMaxGsis) {
    return absl::ResourceExhaustedError(absl::StrCat("no free GSI for an MSI route: KVM allows ", kMaxGsis, " GSIs"));
  }
  msi_routes_[gsi] = msi;
  return gsi;
}

absl::Status SimVm::RemoveMsiRoute(uint32_t gsi) {
  std::lock_guard lock(mu_);
  if (msi_routes_.erase(gsi) == 0) return absl::NotFoundError(absl::StrCat("GSI ", gsi, " has no MSI route"));
  return absl::OkStatus();
}

void SimVm::DeliverGsi(uint32_t gsi) {
  std::optional<MsiMessage> msi;
  {
    std::lock_guard lock(mu_);
    if (auto it = msi_routes_.find(gsi); it != msi_routes_.end()) msi = it->second;
  }
  // A GSI without a route raises nothing, as in KVM.
  if (msi) Deliver(*msi);
}

absl::Status SimVm::AssignIrqfd(uint32_t gsi, int eventfd, int /*resample_eventfd*/) {
  if (gsi < kFirstMsiGsi) {
    return absl::FailedPreconditionError(
        absl::StrCat("sim: GSI ", gsi, " is an irqchip pin, and the sim models no IOAPIC or PIC"));
  }
  if (gsi >= kMaxGsis) return absl::InvalidArgumentError(absl::StrCat("GSI ", gsi, " is beyond KVM's ", kMaxGsis));
  return irqfds_.Bind(eventfd, gsi);
}

absl::Status SimVm::DeassignIrqfd(uint32_t gsi, int eventfd) { return irqfds_.Unbind(eventfd, gsi); }

absl::Status SimVm::AssignIoeventfd(const IoEventfd& e) {
  // kvm_assign_ioeventfd()'s checks.
  if (e.length != 0 && e.length != 1 && e.length != 2 && e.length != 4 && e.length != 8) {
    return absl::InvalidArgumentError(absl::StrCat("ioeventfd length ", e.length, " is not 0, 1, 2, 4 or 8"));
  }
  if (e.length == 0 && (e.space == IoEventfd::Space::kPio || e.datamatch)) {
    return absl::InvalidArgumentError("an ioeventfd of any length is MMIO only and matches no data");
  }
  if (e.address + e.length < e.address) return absl::InvalidArgumentError("ioeventfd address range wraps");
  std::lock_guard lock(mu_);
  for (const IoEventfd& other : ioeventfds_) {
    if (other.space == e.space && other.address == e.address && other.length == e.length &&
        other.datamatch.has_value() == e.datamatch.has_value() && (!e.datamatch || *other.datamatch == *e.datamatch)) {
      return absl::AlreadyExistsError("an ioeventfd with that address, length and datamatch exists");
    }
  }
  ioeventfds_.push_back(e);
  return absl::OkStatus();
}

absl::Status SimVm::DeassignIoeventfd(const IoEventfd& e) {
  std::lock_guard lock(mu_);
  const size_t erased = std::erase_if(ioeventfds_, [&](const IoEventfd& other) {
    return other.eventfd == e.eventfd && other.space == e.space && other.address == e.address &&
           other.length == e.length && other.datamatch == e.datamatch;
  });
  if (erased == 0) return absl::NotFoundError("no such ioeventfd");
  return absl::OkStatus();
}

bool SimVm::MatchIoeventfd(IoEventfd::Space space, uint64_t address, uint32_t size, uint64_t value) {
  std::lock_guard lock(mu_);
  for (const IoEventfd& e : ioeventfds_) {
    if (e.space != space || e.address != address || (e.length != 0 && e.length != size)) continue;
    const uint64_t mask = size >= 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * size)) - 1;
    if (e.datamatch && (*e.datamatch & mask) != (value & mask)) continue;
    const uint64_t one = 1;
    (void)!write(e.eventfd, &one, sizeof(one));
    return true;
  }
  return false;
}

absl::Status SimVm::SetMsrFilter(const msr::MsrFilter& filter) {
  // The kernel's checks, so the sim refuses what KVM would.
  if (absl::Status s = msr::ValidateMsrFilter(filter); !s.ok()) return s;
  auto installed = std::make_shared<msr::MsrFilter>(filter);
  installed->exit_reasons |= msr::kMsrExitReasonFilter;  // as the kvm backend enables
  std::lock_guard lock(mu_);
  msr_filter_ = std::move(installed);
  return absl::OkStatus();
}

std::shared_ptr<const msr::MsrFilter> SimVm::MsrFilter() const {
  std::lock_guard lock(mu_);
  return msr_filter_;
}

absl::StatusOr<VmState> SimVm::SaveState() {
  std::lock_guard lock(mu_);
  VmState state;
  state.msi_routes = msi_routes_;
  if (msr_filter_) state.msr_filter = *msr_filter_;
  state.base_cpuid = base_cpuid_;
  return state;
}

absl::Status SimVm::RestoreState(const VmState& state) {
  if (state.irqchip) return absl::InvalidArgumentError("sim: the VM state has an irqchip (a kvm VM's state?)");
  for (const auto& [gsi, msi] : state.msi_routes) {
    FixedMsiTarget target;
    if (gsi < kFirstMsiGsi || gsi >= kMaxGsis || !DecodeFixedMsi(msi, &target)) {
      return absl::InvalidArgumentError(absl::StrCat("sim: the saved MSI route on GSI ", gsi, " is not one it models"));
    }
  }
  if (state.msr_filter) {
    if (absl::Status s = SetMsrFilter(*state.msr_filter); !s.ok()) return s;
  }
  std::lock_guard lock(mu_);
  msi_routes_ = state.msi_routes;
  if (!state.base_cpuid.empty()) base_cpuid_ = state.base_cpuid;
  return absl::OkStatus();
}

}  // namespace vmd::hv
