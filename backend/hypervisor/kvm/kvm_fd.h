// File descriptors and ioctls for the kvm backend: an owning fd and ioctl
// wrappers whose errors name the ioctl and the errno.
#ifndef VMD_BACKEND_HYPERVISOR_KVM_KVM_FD_H_
#define VMD_BACKEND_HYPERVISOR_KVM_KVM_FD_H_

#include "absl/strings/string_view.h"
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace vmd::hv::kvm {

// Owns a file descriptor; closes it on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// "KVM_CREATE_VM: Cannot allocate memory" with the canonical code for errno.
absl::Status IoctlError(absl::string_view name, int err);

// ioctl(fd, request, arg), retried on EINTR. Returns the ioctl's non-negative
// result, or an error naming `name` and errno.
absl::StatusOr<int> Ioctl(int fd, unsigned long request, absl::string_view name,
                          unsigned long arg = 0);
absl::StatusOr<int> Ioctl(int fd, unsigned long request, absl::string_view name, void* arg);
absl::StatusOr<int> Ioctl(int fd, unsigned long request, absl::string_view name,
                          const void* arg);

// Opens /dev/kvm read-write, close-on-exec.
absl::StatusOr<Fd> OpenKvmDevice();

// KVM_CHECK_EXTENSION: the capability's value, 0 when absent.
int CheckExtension(int fd, int capability);

}  // namespace vmd::hv::kvm

#endif  // VMD_BACKEND_HYPERVISOR_KVM_KVM_FD_H_
