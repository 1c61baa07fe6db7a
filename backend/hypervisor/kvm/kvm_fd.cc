#include "backend/hypervisor/kvm/kvm_fd.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace vmd::hv::kvm {

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) close(fd_);
}

absl::Status IoctlError(absl::string_view name, int err) {
  return absl::ErrnoToStatus(err, absl::StrCat(name, " failed"));
}

absl::StatusOr<int> Ioctl(int fd, unsigned long request, absl::string_view name,
                          unsigned long arg) {
  int result;
  do {
    result = ioctl(fd, request, arg);
  } while (result < 0 && errno == EINTR);
  if (result < 0) return IoctlError(name, errno);
  return result;
}

absl::StatusOr<int> Ioctl(int fd, unsigned long request, absl::string_view name, void* arg) {
  return Ioctl(fd, request, name, reinterpret_cast<unsigned long>(arg));
}

absl::StatusOr<int> Ioctl(int fd, unsigned long request, absl::string_view name,
                          const void* arg) {
  return Ioctl(fd, request, name, reinterpret_cast<unsigned long>(arg));
}

absl::StatusOr<Fd> OpenKvmDevice() {
  int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, "cannot open /dev/kvm");
  return Fd(fd);
}

int CheckExtension(int fd, int capability) {
  int result = ioctl(fd, KVM_CHECK_EXTENSION, capability);
  return result < 0 ? 0 : result;
}

}  // namespace vmd::hv::kvm
