#include "backend/vcpu/exit_dispatcher.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace vmd::engine {

std::optional<std::string> ExitDispatcher::Dispatch(hv::Vcpu& vcpu, hv::VcpuExit& exit) {
  switch (exit.kind) {
    case hv::ExitKind::kInterrupted:
      return std::nullopt;
    case hv::ExitKind::kIoOut:
      bus_.Write(BusSpace::kPio, exit.port, exit.data);
      return std::nullopt;
    case hv::ExitKind::kIoIn:
      if (!bus_.Read(BusSpace::kPio, exit.port, exit.data)) std::fill(exit.data.begin(), exit.data.end(), 0xff);
      vcpu.CompleteIoIn(exit.data);
      return std::nullopt;
    case hv::ExitKind::kMmioWrite:
      bus_.Write(BusSpace::kMmio, exit.address, exit.data);
      return std::nullopt;
    case hv::ExitKind::kMmioRead:
      if (!bus_.Read(BusSpace::kMmio, exit.address, exit.data)) std::fill(exit.data.begin(), exit.data.end(), 0xff);
      vcpu.CompleteMmioRead(exit.data);
      return std::nullopt;
    case hv::ExitKind::kMsrRead:
    case hv::ExitKind::kMsrWrite: {
      // Only what the filter traps exits here (seed 001): a claim or the
      // policy answers.
      msr::MsrAccessResult r =
          msrs_.Handle(vcpu.id(), exit.msr_index, exit.kind == hv::ExitKind::kMsrWrite, exit.msr_data);
      vcpu.CompleteMsr(r.value, r.gp);
      return std::nullopt;
    }
    case hv::ExitKind::kShutdown:
    case hv::ExitKind::kInternalError:
      return absl::StrCat("vcpu ", vcpu.id(), ": ", hv::ExitKindName(exit.kind), ": ", exit.reason);
  }
  return absl::StrCat("vcpu ", vcpu.id(), ": unexpected exit");
}

}  // namespace vmd::engine
