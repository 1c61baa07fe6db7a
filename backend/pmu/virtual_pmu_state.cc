// The virtual PMU's per-vCPU state for snapshots: what differs from reset,
// and its host-initiated restore (virtual_pmu.h).
#include <map>

#include "backend/pmu/virtual_pmu.h"
#include "backend/pmu/virtual_pmu_bits.h"

namespace vmd::pmu {

using namespace bits;  // the helpers of virtual_pmu_bits.h

std::map<uint32_t, uint64_t> VirtualPmu::Save(uint32_t vcpu) const {
  std::map<uint32_t, uint64_t> out;
  if (vcpu >= vcpus_.size()) return out;
  VcpuState st = vcpus_[vcpu];  // a copy brought up to now; the live state is untouched
  Sync(vcpu, st);
  const VcpuState reset = ResetState();
  auto put = [&](uint32_t index, uint64_t value, uint64_t reset_value) {
    if (value != reset_value) out[index] = value;
  };
  for (uint32_t i = 0; i < d_.gp; ++i) {
    put(kMsrEventSel0 + i, st.eventsel[i], 0);
    put(kMsrPerfCtr0 + i, st.gp[i].value, 0);
  }
  for (uint32_t i = 0; i < kFixedCounterSlots; ++i) {
    if (Bit(d_.fixed_exists, i)) put(kMsrFixedCtr0 + i, st.fixed[i].value, 0);
  }
  if (d_.version >= 2) {
    put(kMsrFixedCtrCtrl, st.fixed_ctr_ctrl, 0);
    put(kMsrGlobalStatus, st.global_status, 0);
    put(kMsrGlobalCtrl, st.global_ctrl, reset.global_ctrl);
  }
  put(kMsrDebugCtl, st.debugctl, 0);
  if (d_.pebs) {
    put(kMsrPebsEnable, st.pebs_enable, 0);
    put(kMsrDsArea, st.ds_area, 0);
  }
  if (d_.adaptive) put(kMsrPebsDataCfg, st.pebs_data_cfg, 0);
  if (d_.legacy_lbr) {
    put(kMsrLbrSelect, st.lbr_select, 0);
    put(kMsrLbrTos, st.lbr_tos, 0);
    for (uint32_t i = 0; i < d_.lbr_depth; ++i) {
      put(kMsrLbrFrom0 + i, st.lbr[i].from, 0);
      put(kMsrLbrTo0 + i, st.lbr[i].to, 0);
      if (d_.lbr_info) put(kMsrLbrInfo0 + i, st.lbr[i].info, 0);
    }
  }
  if (d_.arch_lbr) {
    put(kMsrArchLbrCtl, st.arch_lbr_ctl, 0);
    put(kMsrArchLbrDepth, st.arch_lbr_depth, reset.arch_lbr_depth);
    const uint32_t depth = static_cast<uint32_t>(std::min<uint64_t>(st.arch_lbr_depth, kArchLbrSlots));
    for (uint32_t i = 0; i < depth; ++i) {
      put(kMsrArchLbrFrom0 + i, st.lbr[i].from, 0);
      put(kMsrArchLbrTo0 + i, st.lbr[i].to, 0);
      put(kMsrArchLbrInfo0 + i, st.lbr[i].info, 0);
    }
  }
  return out;
}

void VirtualPmu::RestoreOne(VcpuState& st, uint32_t index, uint64_t value) const {
  uint32_t i = 0;
  if (InBlock(index, kMsrEventSel0, kGpCounterSlots, &i)) {
    if (i < d_.gp) st.eventsel[i] = value & ~d_.evtsel_reserved;
    return;
  }
  // Host-initiated counter writes are not sign-extended (intel_pmu_set_msr).
  if (InBlock(index, kMsrPerfCtr0, kGpCounterSlots, &i) || InBlock(index, kMsrFullPmc0, kGpCounterSlots, &i)) {
    if (i < d_.gp) st.gp[i].value = value & d_.gp_mask;
    return;
  }
  if (InBlock(index, kMsrFixedCtr0, kFixedCounterSlots, &i)) {
    if (Bit(d_.fixed_exists, i)) st.fixed[i].value = value & d_.fixed_mask;
    return;
  }
  if (uint64_t* slot = LbrSlot(st, index)) {
    *slot = value;
    return;
  }
  const uint32_t v = d_.version;
  const bool lbr = d_.legacy_lbr || d_.arch_lbr;
  switch (index) {
    case kMsrFixedCtrCtrl:
      if (v >= 2) st.fixed_ctr_ctrl = value & ~d_.fixed_ctrl_reserved;
      break;
    case kMsrGlobalStatus:  // host-initiated: settable (kvm_pmu_set_msr)
      if (v >= 2) st.global_status = value & ~d_.global_status_reserved;
      break;
    case kMsrGlobalCtrl:
      if (v >= 2) st.global_ctrl = value & ~d_.global_ctrl_reserved;
      break;
    case kMsrDebugCtl:
      st.debugctl = value & (lbr ? kDebugCtlFreezeLbrsOnPmi | (d_.legacy_lbr ? kDebugCtlLbr : 0) : 0);
      break;
    case kMsrPebsEnable:
      if (d_.pebs) st.pebs_enable = value & ~d_.pebs_enable_reserved;
      break;
    case kMsrDsArea:
      if (d_.pebs && Canonical48(value)) st.ds_area = value;
      break;
    case kMsrPebsDataCfg:
      if (d_.adaptive) st.pebs_data_cfg = value & kPebsDataCfgValid;
      break;
    case kMsrLbrSelect:
      if (d_.legacy_lbr) st.lbr_select = value;
      break;
    case kMsrLbrTos:
      if (d_.legacy_lbr) st.lbr_tos = value;
      break;
    case kMsrArchLbrCtl:
      if (d_.arch_lbr) st.arch_lbr_ctl = value & kArchLbrCtlValid;
      break;
    default:
      break;  // ARCH_LBR_DEPTH is restored first (Restore); the rest do not exist
  }
}

void VirtualPmu::Restore(uint32_t vcpu, const std::map<uint32_t, uint64_t>& values) {
  if (vcpu >= vcpus_.size()) return;
  VcpuState& st = vcpus_[vcpu];
  st = ResetState();
  // The depth first: it decides which Arch LBR records exist. Restoring it
  // does not clear them (only a guest write does).
  if (auto it = values.find(kMsrArchLbrDepth); it != values.end() && d_.arch_lbr && it->second == d_.arch_lbr_max) {
    st.arch_lbr_depth = it->second;
  }
  for (const auto& [index, value] : values) RestoreOne(st, index, value);
  Reevaluate(vcpu, st);
}

}  // namespace vmd::pmu
