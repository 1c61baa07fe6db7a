// The VM lifecycle (DESIGN.md "VM states"): which operation is legal in which
// state, and where it leads.
//   CREATED -> STARTING -> RUNNING <-> PAUSED -> STOPPING -> STOPPED
//   any state with an engine -> CRASHED (observed, never requested)
// STOPPED and CRASHED VMs may be started again, as libvirt users expect of a
// shut-off domain. Illegal operations are FAILED_PRECONDITION naming the
// current state, and change nothing.
#ifndef VMD_DAEMON_CORE_VM_STATE_MACHINE_H_
#define VMD_DAEMON_CORE_VM_STATE_MACHINE_H_

#include <string>

#include "absl/status/status.h"
#include "vmd/v1/vm.pb.h"

namespace vmd::daemon {

enum class VmOp { kStart, kPause, kResume, kStop, kDelete };
const char* VmOpName(VmOp op);

// "running" for VM_STATE_RUNNING.
std::string StateName(v1::VmState state);

// FAILED_PRECONDITION `vm "NAME" is STATE; NEED`, with a PreconditionFailure
// (type STATE, subject vms/NAME) and ErrorInfo VM_STATE whose metadata holds
// the VM and its state (the enum name): the error of any call the VM's
// current state does not allow.
absl::Status VmStateError(const std::string& vm_name, v1::VmState state, const std::string& need);

// OK when `op` is legal in `state`; else FAILED_PRECONDITION naming the VM,
// its state and the states the operation needs.
absl::Status CheckOperation(const std::string& vm_name, v1::VmState state, VmOp op);

// True for states in which the VM has (or is getting) an engine process.
bool HasEngine(v1::VmState state);

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_CORE_VM_STATE_MACHINE_H_
