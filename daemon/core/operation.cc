#include "daemon/core/operation.h"

namespace vmd::daemon {

absl::Status VmNotFound(const std::string& name) {
  return absl::NotFoundError(absl::StrCat("vm \"", name, "\" not found"));
}

}  // namespace vmd::daemon
