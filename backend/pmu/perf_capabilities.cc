#include "backend/pmu/perf_capabilities.h"

#include "absl/strings/str_format.h"

namespace vmd::pmu {

absl::Status CheckPerfCapabilitiesWrite(uint64_t value, const PerfCapabilitiesContext& ctx) {
  auto refused = [&](const char* rule) {
    return absl::InvalidArgumentError(absl::StrFormat("PERF_CAPABILITIES 0x%x: %s", value, rule));
  };
  // kvm_set_msr_common: only with PDCM, only supported bits; after KVM_RUN
  // only the value the vCPU already has (a no-op).
  if (value != 0 && !ctx.pdcm) return refused("needs CPUID.1:ECX.PDCM");
  if (const uint64_t extra = value & ~ctx.supported; extra != 0) {
    return refused(ctx.supported == 0 ? "KVM supports none (no vPMU)" : "sets bits KVM does not support");
  }
  if (ctx.has_run && value != ctx.current) return refused("cannot change after the vCPU has run");
  // vmx_set_msr: LBR is model-specific (seeds 000, 003).
  if ((value & kPerfCapLbrFormat) != 0) {
    if ((value & kPerfCapLbrFormat) != (ctx.supported & kPerfCapLbrFormat)) {
      return refused("LBR_FMT must be the host's");
    }
    if (!ctx.model_is_host) return refused("LBR needs the guest CPU model to be the host's");
  }
  // PEBS via DS (seed 002): the host's PEBS bits, DS and DTES64, same model.
  if ((value & kPerfCapPebsFormat) != 0) {
    if ((value & kPerfCapPebsMask) != (ctx.supported & kPerfCapPebsMask)) {
      return refused("the PEBS fields must be the host's");
    }
    if (!ctx.ds || !ctx.dtes64) return refused("PEBS needs CPUID DS and DTES64");
    if (!ctx.model_is_host) return refused("PEBS needs the guest CPU model to be the host's");
  }
  return absl::OkStatus();
}

}  // namespace vmd::pmu
