#include "backend/hypervisor/kvm/kvm_gsi_routing.h"

#include <linux/kvm.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "backend/hypervisor/kvm/kvm_uapi.h"
#include "backend/hypervisor/kvm/kvm_fd.h"

namespace vmd::hv::kvm {
namespace {

constexpr uint32_t kIoapicPins = 24;  // KVM_IOAPIC_NUM_PINS
constexpr uint32_t kPicPins = 16;     // two 8259s
static_assert(sizeof(kvm_irq_routing_entry) == 48, "the kernel's routing entry layout");

kvm_irq_routing_entry IrqchipRoute(uint32_t gsi, uint32_t irqchip, uint32_t pin) {
  kvm_irq_routing_entry e{};
  e.gsi = gsi;
  e.type = KVM_IRQ_ROUTING_IRQCHIP;
  e.u.irqchip.irqchip = irqchip;
  e.u.irqchip.pin = pin;
  return e;
}

}  // namespace

absl::StatusOr<uint32_t> GsiRouting::AddMsiRoute(int vm_fd, const MsiMessage& msi) {
  absl::MutexLock lock(&mu_);
  uint32_t gsi = kFirstMsiGsi;
  while (msi_routes_.contains(gsi)) ++gsi;
  // KVM_CAP_IRQ_ROUTING is the number of GSIs (KVM_MAX_IRQ_ROUTES).
  const int max_routes = CheckExtension(vm_fd, KVM_CAP_IRQ_ROUTING);
  if (gsi >= static_cast<uint32_t>(max_routes)) {
    return absl::ResourceExhaustedError(
        absl::StrCat("no free GSI for an MSI route: KVM allows ", max_routes, " GSIs"));
  }
  msi_routes_[gsi] = msi;
  if (absl::Status s = CommitLocked(vm_fd); !s.ok()) {
    msi_routes_.erase(gsi);
    return s;
  }
  return gsi;
}

absl::Status GsiRouting::RemoveMsiRoute(int vm_fd, uint32_t gsi) {
  absl::MutexLock lock(&mu_);
  if (msi_routes_.erase(gsi) == 0) {
    return absl::NotFoundError(absl::StrCat("GSI ", gsi, " has no MSI route"));
  }
  return CommitLocked(vm_fd);
}

std::map<uint32_t, MsiMessage> GsiRouting::MsiRoutes() const {
  absl::MutexLock lock(&mu_);
  return msi_routes_;
}

absl::Status GsiRouting::SetMsiRoutes(int vm_fd, std::map<uint32_t, MsiMessage> routes) {
  absl::MutexLock lock(&mu_);
  for (const auto& [gsi, msi] : routes) {
    if (gsi < kFirstMsiGsi) {
      return absl::InvalidArgumentError(absl::StrCat("MSI route on GSI ", gsi, ": GSIs below ", kFirstMsiGsi,
                                                     " belong to the irqchip"));
    }
  }
  std::swap(msi_routes_, routes);
  absl::Status s = CommitLocked(vm_fd);
  if (!s.ok()) std::swap(msi_routes_, routes);
  return s;
}

absl::Status GsiRouting::CommitLocked(int vm_fd) {
  std::vector<kvm_irq_routing_entry> entries;
  // kvm_setup_default_irq_routing(): what KVM_CREATE_IRQCHIP installed.
  for (uint32_t gsi = 0; gsi < kIoapicPins; ++gsi) {
    entries.push_back(IrqchipRoute(gsi, KVM_IRQCHIP_IOAPIC, gsi));
    if (gsi < kPicPins) {
      entries.push_back(
          IrqchipRoute(gsi, gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE, gsi % 8));
    }
  }
  for (const auto& [gsi, msi] : msi_routes_) {
    kvm_irq_routing_entry e{};
    e.gsi = gsi;
    e.type = KVM_IRQ_ROUTING_MSI;
    e.u.msi.address_lo = msi.address_lo;
    e.u.msi.address_hi = msi.address_hi;
    e.u.msi.data = msi.data;
    entries.push_back(e);
  }
  // struct kvm_irq_routing as the kernel lays it out (kvm_uapi.h).
  std::vector<uint8_t> buffer(sizeof(IrqRoutingHeader) +
                              entries.size() * sizeof(kvm_irq_routing_entry));
  IrqRoutingHeader header{static_cast<uint32_t>(entries.size()), 0};
  std::memcpy(buffer.data(), &header, sizeof(header));
  std::memcpy(buffer.data() + sizeof(header), entries.data(),
              entries.size() * sizeof(kvm_irq_routing_entry));
  return Ioctl(vm_fd, kKvmSetGsiRouting, "KVM_SET_GSI_ROUTING", buffer.data()).status();
}

}  // namespace vmd::hv::kvm
