// The neutral VM and vCPU state (backend/hypervisor/vm_state.h,
// vcpu_state.h) to and from their snapshot messages (vm_snapshot.proto).
// Decoding checks what the types need (sizes of fixed arrays) and names
// what is wrong; it never trusts a file's lengths.
#ifndef VMD_BACKEND_SNAPSHOT_STATE_CODEC_H_
#define VMD_BACKEND_SNAPSHOT_STATE_CODEC_H_

#include "absl/status/statusor.h"
#include "backend/hypervisor/vcpu_state.h"
#include "backend/hypervisor/vm_state.h"
#include "vmd/engine/v1/vm_snapshot.pb.h"

namespace vmd::snapshot {

engine::v1::VcpuState EncodeVcpuState(const hv::VcpuState& state);
absl::StatusOr<hv::VcpuState> DecodeVcpuState(const engine::v1::VcpuState& proto);

engine::v1::VmState EncodeVmState(const hv::VmState& state);
absl::StatusOr<hv::VmState> DecodeVmState(const engine::v1::VmState& proto);

}  // namespace vmd::snapshot

#endif  // VMD_BACKEND_SNAPSHOT_STATE_CODEC_H_
