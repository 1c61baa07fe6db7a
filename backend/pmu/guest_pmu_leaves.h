// A grant's guest PMU as the CPUID builder's PMU leaves (one conversion, for
// the grant's own CPUID view and for the engine that programs the vCPUs).
#ifndef VMD_BACKEND_PMU_GUEST_PMU_LEAVES_H_
#define VMD_BACKEND_PMU_GUEST_PMU_LEAVES_H_

#include "backend/cpu/cpuid_builder.h"
#include "vmd/v1/pmu.pb.h"

namespace vmd::pmu {

cpu::GuestPmuLeaves LeavesOf(const v1::GuestPmu& guest);

}  // namespace vmd::pmu

#endif  // VMD_BACKEND_PMU_GUEST_PMU_LEAVES_H_
