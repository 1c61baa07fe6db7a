#include "backend/engine/seccomp_allowlist.h"

#include <sched.h>
#include <seccomp.h>
#include <sys/prctl.h>

#include <cerrno>
#include <initializer_list>

#include "absl/strings/str_cat.h"
#include "backend/hypervisor/kvm/kvm_uapi.h"

namespace vmd::engine {
namespace {

// The list, found by tracing engines (strace -f, from the moment the socket
// is bound) on kvm and sim through every workload (idle, counter, probe),
// probe programs, pause/resume, graceful/forced/paused stop, MSR policy
// changes, the guest bench, SaveState and restored clones, and the whole
// integration suite. Syscalls allowed whatever their arguments:
const std::initializer_list<int> kSyscalls = {
    // gRPC's server: its epoll poller, the unix socket's connections, the
    // eventfds that wake its pollers.
    SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl), SCMP_SYS(eventfd2), SCMP_SYS(accept4),
    SCMP_SYS(recvmsg), SCMP_SYS(sendmsg), SCMP_SYS(getpeername), SCMP_SYS(getsockname), SCMP_SYS(setsockopt),
    SCMP_SYS(getsockopt), SCMP_SYS(shutdown), SCMP_SYS(poll), SCMP_SYS(ppoll),
    // Reading and writing fds: RPCs, eventfds, the console and engine logs.
    SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(writev), SCMP_SYS(close), SCMP_SYS(fcntl),
    // Files: exit.json (written to a temp file, then renamed), the socket
    // removed at exit, SaveState's state.pb and memory (O_EXCL, fsync,
    // holes), and what absl and gRPC read from /sys and /proc (CPUs online,
    // the TSC frequency).
    SCMP_SYS(openat), SCMP_SYS(newfstatat), SCMP_SYS(fstat), SCMP_SYS(statx), SCMP_SYS(lseek),
    SCMP_SYS(pwrite64), SCMP_SYS(ftruncate), SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(getdents64),
    SCMP_SYS(rename), SCMP_SYS(unlink),
    // Memory: malloc, thread stacks and their guard pages, the freeing of
    // dead threads' stacks; a bench's floor VM maps a fresh memfd and its
    // vCPU's kvm_run.
    SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mprotect), SCMP_SYS(madvise), SCMP_SYS(mremap), SCMP_SYS(brk),
    SCMP_SYS(memfd_create),
    // Threads (gRPC's pool grows and shrinks; vCPU threads start after the
    // filter): glibc's per-thread setup and teardown, futexes, and the
    // scheduling queries pthread_create makes for an inherited policy.
    SCMP_SYS(set_robust_list), SCMP_SYS(rseq), SCMP_SYS(futex), SCMP_SYS(sched_yield),
    SCMP_SYS(sched_getparam), SCMP_SYS(sched_getscheduler), SCMP_SYS(sched_getaffinity), SCMP_SYS(gettid),
    SCMP_SYS(exit), SCMP_SYS(exit_group),
    // Time: sleeps and condition-variable timeouts; clock_gettime where the
    // vDSO falls back to the syscall.
    SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep), SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday),
    // Signals: the termination thread's sigwait, vCPU kicks (SIGUSR1 through
    // tgkill, to leave KVM_RUN) and their handler's return.
    SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigtimedwait), SCMP_SYS(rt_sigreturn), SCMP_SYS(tgkill),
    SCMP_SYS(getpid),
};

// ioctl: only these request numbers, on any fd (a filter cannot tell a KVM
// fd from another). Every request the kvm backend and the bench issue: a
// running VM changes its MSR filter, injects MSIs, saves its state, and the
// bench builds a whole floor VM at run time. Nothing but KVM ioctls.
const std::initializer_list<unsigned long> kIoctls = {
    // /dev/kvm (the bench's floor VM): version, capabilities, a new VM.
    KVM_GET_API_VERSION, KVM_CHECK_EXTENSION, KVM_CREATE_VM, KVM_GET_VCPU_MMAP_SIZE,
    hv::kvm::kKvmGetSupportedCpuid, hv::kvm::kKvmGetMsrIndexList,
    // VM setup (the floor VM), memory, interrupts, ioeventfds.
    KVM_CREATE_VCPU, KVM_SET_TSS_ADDR, KVM_SET_IDENTITY_MAP_ADDR, KVM_CREATE_IRQCHIP, KVM_ENABLE_CAP,
    KVM_SET_USER_MEMORY_REGION, KVM_IRQFD, KVM_IOEVENTFD, hv::kvm::kKvmSetGsiRouting, KVM_SIGNAL_MSI,
    // The run loop, and the MSR policy swapped live.
    KVM_RUN, KVM_X86_SET_MSR_FILTER,
    // vCPU state: boot entry, register dumps of a crash, SaveState (and the
    // floor VM's setup).
    KVM_GET_REGS, KVM_SET_REGS, KVM_GET_SREGS, KVM_SET_SREGS, KVM_GET_MP_STATE, KVM_SET_MP_STATE, KVM_GET_XCRS,
    KVM_SET_XCRS, KVM_GET_DEBUGREGS, KVM_SET_DEBUGREGS, KVM_GET_LAPIC, KVM_SET_LAPIC, KVM_GET_VCPU_EVENTS,
    KVM_SET_VCPU_EVENTS, KVM_GET_TSC_KHZ, KVM_SET_TSC_KHZ, hv::kvm::kKvmGetXsave, hv::kvm::kKvmGetXsave2,
    hv::kvm::kKvmSetXsave, hv::kvm::kKvmGetMsrs, hv::kvm::kKvmSetMsrs, hv::kvm::kKvmGetCpuid2,
    hv::kvm::kKvmSetCpuid2,
    // VM state: SaveState's irqchip, clock and dirty log.
    KVM_GET_IRQCHIP, KVM_SET_IRQCHIP, KVM_GET_CLOCK, KVM_SET_CLOCK, KVM_GET_DIRTY_LOG,
};

absl::Status Failed(int rc, const std::string& what) {
  return absl::ErrnoToStatus(-rc, absl::StrCat("seccomp: ", what));
}

absl::Status AddRules(scmp_filter_ctx ctx) {
  for (int nr : kSyscalls) {
    if (int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0); rc != 0) return Failed(rc, absl::StrCat("syscall ", nr));
  }
  // ioctl's request is an unsigned int in the kernel (the upper half of
  // the register is not looked at): compare 32 bits.
  for (unsigned long request : kIoctls) {
    if (int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, SCMP_A1_32(SCMP_CMP_EQ, request)); rc != 0) {
      return Failed(rc, absl::StrCat("ioctl ", absl::Hex(request)));
    }
  }
  // prctl only to name a thread (gRPC names its pool's threads).
  if (int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1, SCMP_A0_32(SCMP_CMP_EQ, PR_SET_NAME)); rc != 0) {
    return Failed(rc, "prctl(PR_SET_NAME)");
  }
  // glibc installs the handlers of its two internal signals (SIGCANCEL, 32,
  // and SIGSETXID, 33) at the process's first pthread_create, which may come
  // after the filter; no other handler may change.
  for (int internal_signal : {32, 33}) {
    if (int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(rt_sigaction), 1,
                                  SCMP_A0_32(SCMP_CMP_EQ, static_cast<uint32_t>(internal_signal)));
        rc != 0) {
      return Failed(rc, "rt_sigaction");
    }
  }
  // New threads, never new processes. clone3 passes its flags in memory,
  // where a filter cannot look, so it answers ENOSYS and glibc falls back
  // to clone, whose flags are its first argument: CLONE_THREAD required.
  if (int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0); rc != 0) return Failed(rc, "clone3");
  if (int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                                SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
      rc != 0) {
    return Failed(rc, "clone(CLONE_THREAD)");
  }
  return absl::OkStatus();
}

}  // namespace

// Beyond the plain list: ioctl, prctl, rt_sigaction and clone, with their
// arguments checked.
size_t SeccompAllowedSyscalls() { return kSyscalls.size() + 4; }
size_t SeccompAllowedIoctls() { return kIoctls.size(); }

absl::Status LoadSeccompAllowList() {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
  if (ctx == nullptr) return absl::InternalError("seccomp: seccomp_init failed");
  absl::Status s = AddRules(ctx);
  // Every thread of the engine, not only the caller (gRPC's exist by now).
  if (int rc = s.ok() ? seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) : 0; rc != 0) s = Failed(rc, "TSYNC");
  if (int rc = s.ok() ? seccomp_load(ctx) : 0; rc != 0) s = Failed(rc, "load the filter");
  seccomp_release(ctx);
  return s;
}

}  // namespace vmd::engine
