#include "backend/pmu/virtual_pmu.h"

#include <algorithm>

#include "backend/pmu/perf_capabilities.h"
#include "backend/pmu/virtual_pmu_bits.h"

namespace vmd::pmu {
using namespace bits;  // the helpers of virtual_pmu_bits.h

bool FixedCounterExists(const VirtualPmuShape& shape, uint32_t i) {
  const uint32_t version = std::min(shape.version, kMaxModelledVersion);
  if (version < 2 || i >= kFixedCounterSlots) return false;
  if (version >= 5 && Bit(shape.fixed_counter_bitmap, i)) return true;
  return shape.fixed_counters > i;
}

VirtualPmu::Derived VirtualPmu::Derive(const VirtualPmuShape& shape) {
  Derived d;
  // KVM caps the version at what it emulates (kvm_init_pmu_capability; seed
  // 004 patch 8 raises Intel's cap to 5).
  d.version = std::min(shape.version, kMaxModelledVersion);
  d.evtsel_reserved = d.fixed_ctrl_reserved = d.global_ctrl_reserved = ~uint64_t{0};
  d.global_status_reserved = d.pebs_enable_reserved = ~uint64_t{0};
  if (d.version == 0) return d;  // intel_pmu_refresh(): no version, no PMU

  d.gp = std::min(shape.gp_counters, kGpCounterSlots);
  d.gp_mask = LowBits(shape.gp_counter_width);
  d.fixed_mask = LowBits(shape.fixed_counter_width);
  for (uint32_t i = 0; i < kFixedCounterSlots; ++i) {
    if (FixedCounterExists(shape, i)) d.fixed_exists |= 1u << i;
  }
  // vcpu_get_perf_capabilities(): 0 unless the guest has PDCM.
  d.caps = shape.pdcm ? shape.perf_capabilities : 0;
  d.fw_writes = d.caps & kPerfCapFwWrites;

  // intel_pmu_refresh(): the enable bits of existing counters are the only
  // non-reserved GLOBAL_CTRL bits; GLOBAL_STATUS and OVF_CTRL share them
  // plus OVF_BUF (62) and COND_CHGD (63), which KVM never reserves.
  const uint64_t gp_bits = LowBits(d.gp);
  const uint64_t fixed_bits = uint64_t{d.fixed_exists} << kFixedIdxBase;
  d.global_ctrl_reserved = ~(gp_bits | fixed_bits);
  d.global_status_reserved = d.global_ctrl_reserved & ~(kStatusOvfBuf | kStatusCondChgd);
  // Seed 004 patch 2 unreserves LBR_FRZ for v4+. CTR_FRZ is the SDM's
  // other streamlined-freeze bit; the seed leaves it reserved, we define it
  // (see Overflow() for why a PMI never sets it).
  if (d.version >= 4) d.global_status_reserved &= ~(kStatusLbrFrz | kStatusCtrFrz);
  for (uint32_t i = 0; i < kFixedCounterSlots; ++i) {
    if (Bit(d.fixed_exists, i)) d.fixed_ctrl_reserved &= ~FixedCtrlField(kFixedAllowed, i);
  }
  d.evtsel_reserved = kEvtSelReserved;

  // LBR: KVM grants it only with a vPMU (x86_perf_get_lbr() records.nr).
  d.legacy_lbr = shape.lbr == LbrKind::kLegacy && shape.lbr_depth > 0;
  d.lbr_depth = d.legacy_lbr ? std::min(shape.lbr_depth, kLegacyLbrSlots) : 0;
  const uint64_t lbr_format = d.caps & kPerfCapLbrFormat;
  d.lbr_info = d.legacy_lbr && (lbr_format == kLbrFormatInfo || lbr_format == kLbrFormatInfo2);
  const uint32_t depths = shape.arch_lbr_depth_bitmap & 0xff;
  d.arch_lbr = shape.lbr == LbrKind::kArch && depths != 0;
  if (d.arch_lbr) {
    uint32_t top = 7;
    while (!Bit(depths, top)) --top;
    d.arch_lbr_max = 8 * (top + 1);  // fls(EAX[7:0]) * 8, as the Arch LBR series computes it
  }

  // PEBS (seed 002; intel_pmu_refresh): without PEBS_BASELINE only GP
  // counters can be PEBS counters; with it, fixed ones too, plus the
  // adaptive-record bits of PERFEVTSEL (34) and FIXED_CTR_CTRL (32 + 4i).
  d.pebs = shape.pebs != PebsKind::kNone;
  d.adaptive = shape.pebs == PebsKind::kAdaptive;
  if (d.adaptive) {
    d.pebs_enable_reserved = d.global_ctrl_reserved;
    d.evtsel_reserved &= ~kEvtSelAdaptive;
    for (uint32_t i = 0; i < kFixedCounterSlots; ++i) {
      if (Bit(d.fixed_exists, i)) d.fixed_ctrl_reserved &= ~(uint64_t{1} << (kFixedAdaptiveShift + 4 * i));
    }
  } else if (d.pebs) {
    d.pebs_enable_reserved = ~gp_bits;
  }
  return d;
}

VirtualPmu::VirtualPmu(const VirtualPmuShape& shape, uint32_t vcpus, PmuClock* clock)
    : shape_(shape), d_(Derive(shape)), clock_(clock), vcpus_(vcpus, ResetState()) {}

VirtualPmu::VcpuState VirtualPmu::ResetState() const {
  VcpuState st;
  // kvm_pmu_refresh(): "At RESET, both Intel and AMD CPUs set all enable
  // bits for general purpose counters in IA32_PERF_GLOBAL_CTRL".
  if (d_.version >= 2) st.global_ctrl = LowBits(d_.gp);
  st.arch_lbr_depth = d_.arch_lbr_max;
  return st;
}

std::vector<std::pair<uint32_t, uint32_t>> VirtualPmu::MsrRanges() const {
  return {
      {kMsrPerfCtr0, kGpCounterSlots},
      {kMsrEventSel0, kGpCounterSlots},
      {kMsrLbrSelect, 2},
      {kMsrDebugCtl, 1},
      {kMsrFixedCtr0, kFixedCounterSlots},
      {kMsrPerfCaps, 1},
      {kMsrFixedCtrCtrl, 6},  // FIXED_CTR_CTRL .. GLOBAL_INUSE
      {kMsrPebsEnable, 2},
      {kMsrPebsLdLat, 1},
      {kMsrFullPmc0, kGpCounterSlots},
      {kMsrDsArea, 1},
      {kMsrLbrFrom0, kLegacyLbrSlots},
      {kMsrLbrTo0, kLegacyLbrSlots},
      {kMsrLbrInfo0, kLegacyLbrSlots},
      {kMsrArchLbrInfo0, kArchLbrSlots},
      {kMsrArchLbrCtl, 2},
      {kMsrArchLbrFrom0, kArchLbrSlots},
      {kMsrArchLbrTo0, kArchLbrSlots},
  };
}

uint64_t VirtualPmu::Now(uint32_t vcpu, Source source) const {
  return source == Source::kCore ? clock_->CoreCycles(vcpu) : clock_->RefCycles(vcpu);
}

VirtualPmu::Source VirtualPmu::WantedSource(const VcpuState& st, bool fixed, uint32_t i) const {
  // Streamlined freeze (SDM): nothing counts while CTR_FRZ is set.
  if (d_.version >= 4 && (st.global_status & kStatusCtrFrz)) return Source::kNone;
  if (!fixed) {
    if (i >= d_.gp) return Source::kNone;
    const uint64_t sel = st.eventsel[i];
    if (!(sel & kEvtSelEnable) || !(sel & (kEvtSelOs | kEvtSelUsr))) return Source::kNone;
    // pmc_is_globally_enabled(): GLOBAL_CTRL gates only from version 2 on.
    if (d_.version >= 2 && !Bit(st.global_ctrl, i)) return Source::kNone;
    // Only the event select and unit mask pick the event; edge, invert and
    // CMASK are ignored, as kvm_pmu_trigger_event() ignores them.
    const uint32_t event = sel & kEvtSelEvent, umask = (sel & kEvtSelUmask) >> 8;
    if (event != kEventCoreCycles) return Source::kNone;
    // intel_hw_event_available(): an event CPUID marks unavailable does not count.
    if (umask == 0 && !(shape_.unavailable_events & kEbxCoreCycles)) return Source::kCore;
    if (umask == kUmaskRefCycles && !(shape_.unavailable_events & kEbxRefCycles)) return Source::kRef;
    return Source::kNone;
  }
  if (!Bit(d_.fixed_exists, i)) return Source::kNone;
  if (!((st.fixed_ctr_ctrl >> (4 * i)) & (kFixedKernel | kFixedUser))) return Source::kNone;
  if (!Bit(st.global_ctrl, kFixedIdxBase + i)) return Source::kNone;
  // Fixed 0 (instructions retired) and 3 (topdown slots) never advance.
  if (i == 1) return Source::kCore;
  if (i == 2) return Source::kRef;
  return Source::kNone;
}

void VirtualPmu::Sync(uint32_t vcpu, VcpuState& st) const {
  auto advance = [&](Counter& c, uint64_t mask, uint32_t idx, bool pmi) {
    if (c.source == Source::kNone) return;
    const uint64_t now = Now(vcpu, c.source);
    const uint64_t delta = now - c.since;
    const bool wrapped = delta > mask - c.value;  // value + delta passes the width
    c.value = (c.value + delta) & mask;
    c.since = now;
    if (wrapped) Overflow(st, idx, pmi);
  };
  for (uint32_t i = 0; i < d_.gp; ++i) advance(st.gp[i], d_.gp_mask, i, st.eventsel[i] & kEvtSelInt);
  for (uint32_t i = 0; i < kFixedCounterSlots; ++i) {
    if (!Bit(d_.fixed_exists, i)) continue;
    advance(st.fixed[i], d_.fixed_mask, kFixedIdxBase + i, (st.fixed_ctr_ctrl >> (4 * i)) & kFixedPmi);
  }
}

void VirtualPmu::Reevaluate(uint32_t vcpu, VcpuState& st) const {
  auto update = [&](Counter& c, Source want) {
    if (want == c.source) return;
    c.source = want;
    if (want != Source::kNone) c.since = Now(vcpu, want);
  };
  for (uint32_t i = 0; i < d_.gp; ++i) update(st.gp[i], WantedSource(st, false, i));
  for (uint32_t i = 0; i < kFixedCounterSlots; ++i) update(st.fixed[i], WantedSource(st, true, i));
}

void VirtualPmu::Overflow(VcpuState& st, uint32_t idx, bool pmi) const {
  // __kvm_perf_overflow(): an emulated overflow of a PEBS counter (a
  // precise event) sets no status bit and raises no PMI ("KVM is currently
  // _choosing_ to not generate records for emulated instructions"), and
  // every overflow here is emulated.
  if (d_.pebs && Bit(st.pebs_enable, idx)) return;
  st.global_status |= uint64_t{1} << idx;
  if (!pmi) return;
  st.pmi_pending = true;
  DeliverPmi(st);
  // No PMI sets CTR_FRZ: that needs DEBUGCTL.FREEZE_PERFMON_ON_PMI, which
  // vmx_get_supported_debugctl() never allows, so a guest WRMSR of it #GPs.
}

bool VirtualPmu::LbrEnabled(const VcpuState& st) const {
  if (d_.legacy_lbr) return st.debugctl & kDebugCtlLbr;
  if (d_.arch_lbr) return st.arch_lbr_ctl & kArchLbrCtlEnable;
  return false;
}

void VirtualPmu::DeliverPmi(VcpuState& st) const {
  // intel_pmu_deliver_pmi(): only with guest LBR.
  if (!d_.legacy_lbr && !d_.arch_lbr) return;
  if (!(st.debugctl & kDebugCtlFreezeLbrsOnPmi)) return;
  if (d_.version >= 2 && d_.version < 4) {
    // intel_pmu_legacy_freezing_lbrs_on_pmi(): clear the LBR enable bit,
    // DEBUGCTL.LBR, or ARCH_LBR_CTL.LBREn under Arch LBR (seed 001 v11).
    if (d_.arch_lbr) {
      st.arch_lbr_ctl &= ~kArchLbrCtlEnable;
    } else {
      st.debugctl &= ~kDebugCtlLbr;
    }
  } else if (d_.version >= 4 && LbrEnabled(st)) {
    // Seed 004 patch 2, streamlined freeze: the guest still sees its LBR
    // enable bit; LBR_FRZ says the stack is frozen until it is cleared. The
    // seed tests DEBUGCTL.LBR; under Arch LBR that bit reads 0, so we test
    // ARCH_LBR_CTL.LBREn instead.
    st.global_status |= kStatusLbrFrz;
  }
}

uint64_t VirtualPmu::Inuse(const VcpuState& st) const {
  // Seed 004 patch 4, intel_pmu_global_inuse_emulation().
  uint64_t inuse = 0;
  for (uint32_t i = 0; i < d_.gp; ++i) {
    if (st.eventsel[i] & kEvtSelEvent) inuse |= uint64_t{1} << i;
    if (st.eventsel[i] & kEvtSelInt) inuse |= kInusePmi;
  }
  for (uint32_t i = 0; i < kFixedCounterSlots; ++i) {
    if (!Bit(d_.fixed_exists, i)) continue;
    const uint64_t field = st.fixed_ctr_ctrl >> (4 * i);
    if (field & (kFixedKernel | kFixedUser)) inuse |= uint64_t{1} << (kFixedIdxBase + i);
    if (field & kFixedPmi) inuse |= kInusePmi;
  }
  if (st.pebs_enable) inuse |= kInusePmi;
  return inuse;
}

uint64_t* VirtualPmu::LbrSlot(VcpuState& st, uint32_t index) const {
  uint32_t i = 0;
  if (d_.legacy_lbr) {
    if (InBlock(index, kMsrLbrFrom0, d_.lbr_depth, &i)) return &st.lbr[i].from;
    if (InBlock(index, kMsrLbrTo0, d_.lbr_depth, &i)) return &st.lbr[i].to;
    if (d_.lbr_info && InBlock(index, kMsrLbrInfo0, d_.lbr_depth, &i)) return &st.lbr[i].info;
  }
  if (d_.arch_lbr) {
    // The records that exist are those below the current depth.
    const uint32_t depth = static_cast<uint32_t>(std::min<uint64_t>(st.arch_lbr_depth, kArchLbrSlots));
    if (InBlock(index, kMsrArchLbrFrom0, depth, &i)) return &st.lbr[i].from;
    if (InBlock(index, kMsrArchLbrTo0, depth, &i)) return &st.lbr[i].to;
    if (InBlock(index, kMsrArchLbrInfo0, depth, &i)) return &st.lbr[i].info;
  }
  return nullptr;
}

std::optional<uint64_t> VirtualPmu::ReadMsr(VcpuState& st, uint32_t index) const {
  const uint32_t v = d_.version;
  uint32_t i = 0;
  if (InBlock(index, kMsrEventSel0, kGpCounterSlots, &i)) {
    if (i < d_.gp) return st.eventsel[i];
    // kvm_get_msr_common(): MSR_P6_EVNTSEL0/1 and MSR_P6_PERFCTR0/1 of a
    // counter KVM does not have read as 0 instead of #GP, for any version.
    if (i < 2) return 0;
    return std::nullopt;
  }
  if (InBlock(index, kMsrPerfCtr0, kGpCounterSlots, &i)) {
    if (i < d_.gp) return st.gp[i].value;
    if (i < 2) return 0;
    return std::nullopt;
  }
  if (InBlock(index, kMsrFullPmc0, kGpCounterSlots, &i)) {
    if (d_.fw_writes && i < d_.gp) return st.gp[i].value;  // get_fw_gp_pmc()
    return std::nullopt;
  }
  if (InBlock(index, kMsrFixedCtr0, kFixedCounterSlots, &i)) {
    if (Bit(d_.fixed_exists, i)) return st.fixed[i].value;
    return std::nullopt;
  }
  if (uint64_t* slot = LbrSlot(st, index)) return *slot;
  switch (index) {
    case kMsrPerfCaps:  // kvm_get_msr_common(): needs guest PDCM
      if (shape_.pdcm) return shape_.perf_capabilities;
      return std::nullopt;
    case kMsrFixedCtrCtrl:
      if (v >= 2) return st.fixed_ctr_ctrl;
      return std::nullopt;
    case kMsrGlobalStatus:
      if (v >= 2) return st.global_status;
      return std::nullopt;
    case kMsrGlobalCtrl:
      if (v >= 2) return st.global_ctrl;
      return std::nullopt;
    case kMsrGlobalOvfCtrl:  // write-only in effect: reads 0 (kvm_pmu_get_msr)
      if (v >= 2) return 0;
      return std::nullopt;
    case kMsrGlobalStatusSet:  // seed 004 patch 3: reads 0
      if (v >= 4) return 0;
      return std::nullopt;
    case kMsrGlobalInuse:
      if (v >= 4) return Inuse(st);
      return std::nullopt;
    case kMsrPebsEnable:
      if (d_.pebs) return st.pebs_enable;
      return std::nullopt;
    case kMsrDsArea:
      if (d_.pebs) return st.ds_area;
      return std::nullopt;
    case kMsrPebsDataCfg:
      if (d_.adaptive) return st.pebs_data_cfg;
      return std::nullopt;
    case kMsrDebugCtl:
      return st.debugctl;
    case kMsrLbrSelect:
      if (d_.legacy_lbr) return st.lbr_select;
      return std::nullopt;
    case kMsrLbrTos:
      if (d_.legacy_lbr) return st.lbr_tos;
      return std::nullopt;
    case kMsrArchLbrCtl:
      if (d_.arch_lbr) return st.arch_lbr_ctl;
      return std::nullopt;
    case kMsrArchLbrDepth:
      if (d_.arch_lbr) return st.arch_lbr_depth;
      return std::nullopt;
    default:
      return std::nullopt;  // incl. PEBS_LD_LAT, which KVM never emulates
  }
}

bool VirtualPmu::WriteDebugCtl(VcpuState& st, uint64_t value) const {
  // vmx_is_valid_debugctl() / vmx_set_msr(): LBR and FREEZE_LBRS_ON_PMI
  // are supported only with guest LBR; BTF never. Unsupported BTF and LBR
  // are dropped silently (old guests set them), every other unsupported bit
  // #GPs (FREEZE_PERFMON_ON_PMI among them); then "data &=
  // vmx_get_supported_debugctl()". BUS_LOCK_DETECT and RTM_DEBUG depend on
  // CPUID bits no shape grants.
  const uint64_t supported = (d_.legacy_lbr || d_.arch_lbr) ? kDebugCtlLbr | kDebugCtlFreezeLbrsOnPmi : 0;
  if (value & ~supported & ~(kDebugCtlBtf | kDebugCtlLbr)) return false;
  value &= supported;
  // Arch LBR series (seed 001 v11 patch 7): under Arch LBR, DEBUGCTL.LBR
  // "can be written to 0 or 1, but reads will always return 0".
  if (d_.arch_lbr) value &= ~kDebugCtlLbr;
  st.debugctl = value;
  return true;
}

bool VirtualPmu::WriteArchLbrCtl(VcpuState& st, uint64_t value) const {
  // arch_lbr_ctl_is_valid() (seed 001 v11 patch 7): KVM_ARCH_LBR_CTL_MASK,
  // and each filter only when CPUID 0x1C EBX enumerates it.
  if (value & ~kArchLbrCtlValid) return false;
  const uint32_t ebx = shape_.arch_lbr_capabilities;
  if (!(ebx & kArchLbrEbxCpl) && (value & kArchLbrCtlCpl)) return false;
  if (!(ebx & kArchLbrEbxCallStack) && (value & kArchLbrCtlStack)) return false;
  if (!(ebx & kArchLbrEbxFilter) && (value & kArchLbrCtlFilter)) return false;
  st.arch_lbr_ctl = value;
  return true;
}

bool VirtualPmu::WriteMsr(VcpuState& st, uint32_t index, uint64_t value) const {
  const uint32_t v = d_.version;
  uint32_t i = 0;
  if (InBlock(index, kMsrEventSel0, kGpCounterSlots, &i)) {
    if (i < d_.gp) {
      if (value & d_.evtsel_reserved) return false;
      st.eventsel[i] = value;
      return true;
    }
    // kvm_set_msr_common(): writes to MSR_P6_EVNTSEL0/1 and
    // MSR_P6_PERFCTR0/1 of a counter KVM does not have are dropped.
    return i < 2;
  }
  if (InBlock(index, kMsrPerfCtr0, kGpCounterSlots, &i)) {
    if (i < d_.gp) {
      // intel_pmu_set_msr(): a guest write through the legacy alias is
      // sign-extended from bit 31, then cut to the width (pmc_write_counter).
      st.gp[i].value = SignExtend32(value) & d_.gp_mask;
      return true;
    }
    return i < 2;
  }
  if (InBlock(index, kMsrFullPmc0, kGpCounterSlots, &i)) {
    if (!d_.fw_writes || i >= d_.gp) return false;
    if (value & ~d_.gp_mask) return false;  // full-width writes: bits above the width #GP
    st.gp[i].value = value;
    return true;
  }
  if (InBlock(index, kMsrFixedCtr0, kFixedCounterSlots, &i)) {
    if (!Bit(d_.fixed_exists, i)) return false;
    st.fixed[i].value = value & d_.fixed_mask;  // pmc_write_counter(): cut, never #GP
    return true;
  }
  if (uint64_t* slot = LbrSlot(st, index)) {
    // Records are storage: KVM passes them to the LBR hardware, whose own
    // checks this model does not reproduce.
    *slot = value;
    return true;
  }
  switch (index) {
    case kMsrFixedCtrCtrl:
      if (v < 2 || (value & d_.fixed_ctrl_reserved)) return false;
      st.fixed_ctr_ctrl = value;
      return true;
    case kMsrGlobalCtrl:  // kvm_valid_perf_global_ctrl()
      if (v < 2 || (value & d_.global_ctrl_reserved)) return false;
      st.global_ctrl = value;
      return true;
    case kMsrGlobalOvfCtrl:
      // GLOBAL_OVF_CTRL (v4: STATUS_RESET) clears GLOBAL_STATUS bits and
      // shares its reserved bits. Clearing LBR_FRZ resumes recording (seed
      // 004): the guest's LBR enable bit was never cleared, so nothing else
      // changes here.
      if (v < 2 || (value & d_.global_status_reserved)) return false;
      st.global_status &= ~value;
      return true;
    case kMsrGlobalStatusSet:  // seed 004 patch 3: same reserved bits; sets, raises no PMI
      if (v < 4 || (value & d_.global_status_reserved)) return false;
      st.global_status |= value;
      return true;
    case kMsrPebsEnable:
      if (!d_.pebs || (value & d_.pebs_enable_reserved)) return false;
      st.pebs_enable = value;
      return true;
    case kMsrDsArea:
      if (!d_.pebs || !Canonical48(value)) return false;
      st.ds_area = value;
      return true;
    case kMsrPebsDataCfg:
      if (!d_.adaptive || (value & ~kPebsDataCfgValid)) return false;
      st.pebs_data_cfg = value;
      return true;
    case kMsrDebugCtl:
      return WriteDebugCtl(st, value);
    case kMsrLbrSelect:
      if (!d_.legacy_lbr) return false;
      st.lbr_select = value;
      return true;
    case kMsrLbrTos:
      if (!d_.legacy_lbr) return false;
      st.lbr_tos = value;
      return true;
    case kMsrArchLbrCtl:
      return d_.arch_lbr && WriteArchLbrCtl(st, value);
    case kMsrArchLbrDepth:
      // Seed 001 v11 patch 6: KVM takes only the maximum enumerated depth
      // (arch_lbr_depth_is_valid(): depth == fls(EAX[7:0]) * 8), and a write
      // resets every record.
      if (!d_.arch_lbr || value != d_.arch_lbr_max) return false;
      st.arch_lbr_depth = value;
      st.lbr.fill(LbrRecord{});
      return true;
    default:
      // PERF_CAPABILITIES (guest writes always #GP: vmx_pmu_caps_test),
      // GLOBAL_STATUS and GLOBAL_INUSE (read-only), PEBS_LD_LAT, absent MSRs.
      return false;
  }
}

std::optional<uint64_t> VirtualPmu::Read(uint32_t vcpu, uint32_t index) {
  if (vcpu >= vcpus_.size()) return std::nullopt;
  VcpuState& st = vcpus_[vcpu];
  Sync(vcpu, st);
  return ReadMsr(st, index);
}

bool VirtualPmu::Write(uint32_t vcpu, uint32_t index, uint64_t value) {
  if (vcpu >= vcpus_.size()) return false;
  VcpuState& st = vcpus_[vcpu];
  Sync(vcpu, st);
  const bool ok = WriteMsr(st, index, value);
  Reevaluate(vcpu, st);
  return ok;
}

std::optional<uint64_t> VirtualPmu::Rdpmc(uint32_t vcpu, uint32_t ecx) {
  if (vcpu >= vcpus_.size()) return std::nullopt;
  VcpuState& st = vcpus_[vcpu];
  Sync(vcpu, st);
  if (d_.version == 0) return std::nullopt;  // kvm_pmu_rdpmc(): no PMU
  const uint32_t type = ecx & kRdpmcTypeMask, idx = ecx & kRdpmcIndexMask;
  if (type == 0) {
    if (idx < d_.gp) return st.gp[idx].value;
    return std::nullopt;
  }
  if (type == kRdpmcFixed) {
    if (idx < kFixedCounterSlots && Bit(d_.fixed_exists, idx)) return st.fixed[idx].value;
    return std::nullopt;
  }
  return std::nullopt;  // any other type, incl. the "fast" bit 31
}

bool VirtualPmu::TakePmi(uint32_t vcpu) {
  if (vcpu >= vcpus_.size()) return false;
  VcpuState& st = vcpus_[vcpu];
  Sync(vcpu, st);
  const bool pmi = st.pmi_pending;
  st.pmi_pending = false;
  return pmi;
}

}  // namespace vmd::pmu
