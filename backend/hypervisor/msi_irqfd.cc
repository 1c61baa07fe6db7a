#include "backend/hypervisor/msi_irqfd.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

namespace vmd::hv {

absl::StatusOr<std::unique_ptr<MsiIrqfd>> MsiIrqfd::Create(Vm& vm, const MsiMessage& msi) {
  int efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd < 0) return absl::ErrnoToStatus(errno, "eventfd");
  absl::StatusOr<uint32_t> gsi = vm.AddMsiRoute(msi);
  if (!gsi.ok()) {
    close(efd);
    return gsi.status();
  }
  if (absl::Status s = vm.AssignIrqfd(*gsi, efd); !s.ok()) {
    (void)vm.RemoveMsiRoute(*gsi);
    close(efd);
    return s;
  }
  return std::unique_ptr<MsiIrqfd>(new MsiIrqfd(vm, efd, *gsi));
}

MsiIrqfd::~MsiIrqfd() {
  // Failures leave a stale route or binding on a VM that is going away or
  // in a state a destructor cannot fix: nothing to do about them.
  (void)vm_.DeassignIrqfd(gsi_, eventfd_);
  (void)vm_.RemoveMsiRoute(gsi_);
  close(eventfd_);
}

absl::Status MsiIrqfd::Signal() const {
  const uint64_t one = 1;
  if (write(eventfd_, &one, sizeof(one)) != static_cast<ssize_t>(sizeof(one))) {
    return absl::ErrnoToStatus(errno, "write to the irqfd eventfd");
  }
  return absl::OkStatus();
}

}  // namespace vmd::hv
