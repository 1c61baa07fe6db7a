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
// is bound, seccomp off) on kvm and sim through every workload (idle,
// counter, probe), probe programs, pause/resume, graceful, forced and paused
// stops, MSR policy changes, the guest bench and the whole integration
// suite, and SaveState and restored clones (tests/unit/sandbox_test.cc).
// Syscalls allowed whatever their arguments:
const std::initializer_list<int> kSyscalls = {
    // gRPC's server: its epoll poller, the unix socket's connections, the
    // eventfds that wake its pollers.
    SCMP_SYS(epoll_wait), SCMP_SYS(epoll_ctl), SCMP_SYS(eventfd2), SCMP_SYS(accept4), SCMP_SYS(recvmsg),
    SCMP_SYS(sendmsg), SCMP_SYS(getpeername), SCMP_SYS(getsockname), SCMP_SYS(setsockopt), SCMP_SYS(shutdown),
    // fds: RPCs, eventfds, the console and engine logs.
    SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(writev), SCMP_SYS(lseek), SCMP_SYS(fcntl), SCMP_SYS(close),
    // Files: exit.json (a temp file, renamed), the socket removed at exit,
    // SaveState's state.pb and memory (an empty dir checked, O_EXCL files,
    // zero pages left as holes, fsync), and what absl and gRPC read from
    // /sys (the CPUs online, the TSC frequency).
    SCMP_SYS(openat), SCMP_SYS(newfstatat), SCMP_SYS(getdents64), SCMP_SYS(pwrite64), SCMP_SYS(ftruncate),
    SCMP_SYS(fsync), SCMP_SYS(rename), SCMP_SYS(unlink),
    // Memory: malloc (brk on the main thread's arena, mmap elsewhere;
    // mremap when realloc moves a large block), thread stacks and their
    // guard pages, dead threads' stacks freed; the bench's floor VM maps a
    // fresh memfd and its vCPU's kvm_run.
    SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mprotect), SCMP_SYS(madvise), SCMP_SYS(brk), SCMP_SYS(mremap),
    SCMP_SYS(memfd_create),
    // Threads (gRPC's pool grows and shrinks; vCPU threads start after the
    // filter): glibc's per-thread setup and teardown, futexes, and the
    // scheduling queries of pthread_create with an inherited policy.
    SCMP_SYS(set_robust_list), SCMP_SYS(rseq), SCMP_SYS(futex), SCMP_SYS(sched_yield), SCMP_SYS(sched_getparam),
    SCMP_SYS(sched_getscheduler), SCMP_SYS(exit), SCMP_SYS(exit_group),
    // Time: sleeps and timed waits; clock_gettime for a host whose
    // clocksource the vDSO cannot read (it then makes the syscall).
    SCMP_SYS(clock_nanosleep), SCMP_SYS(clock_gettime),
    // Signals: the termination thread's sigwait, vCPU kicks (SIGUSR1 by
    // tgkill, to leave KVM_RUN) and their handler's return; and the kernel's
    // own restart of a sleep a stop signal interrupted (SIGSTOP then SIGCONT,
    // as a debugger or a job-control shell does, must not kill the engine).
    SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigtimedwait), SCMP_SYS(rt_sigreturn), SCMP_SYS(tgkill),
    SCMP_SYS(getpid), SCMP_SYS(restart_syscall),
};

#ifdef VMD_SANITIZER_RUNTIME
// Only in the sanitizer build (CI's, never one users run): the runtime's own
// syscalls. UBSan's vptr check tests that memory is readable by writing it
// to a pipe; ASan gives each new thread an alternate signal stack.
const std::initializer_list<int> kSanitizerSyscalls = {SCMP_SYS(pipe2), SCMP_SYS(sigaltstack), SCMP_SYS(gettid), SCMP_SYS(sched_getaffinity)};
#endif

// ioctl: only these request numbers, on any fd (a filter cannot tell a KVM
// fd from another); nothing but KVM's.
const std::initializer_list<unsigned long> kIoctls = {
    // The run loop, MSIs (probe programs, the bench), the MSR policy
    // swapped live.
    KVM_RUN, KVM_SIGNAL_MSI, KVM_X86_SET_MSR_FILTER,
    // SaveState: every vCPU's state and the VM's (and a crash's register
    // dump: regs and sregs).
    KVM_GET_REGS, KVM_GET_SREGS, KVM_GET_MP_STATE, hv::kvm::kKvmGetXsave, hv::kvm::kKvmGetXsave2, KVM_GET_XCRS,
    KVM_GET_DEBUGREGS, KVM_GET_LAPIC, KVM_GET_VCPU_EVENTS, KVM_GET_TSC_KHZ, hv::kvm::kKvmGetMsrIndexList,
    hv::kvm::kKvmGetMsrs, hv::kvm::kKvmGetCpuid2, KVM_GET_IRQCHIP, KVM_GET_CLOCK,
    // The guest bench builds its floor VM at run time: a VM with an
    // irqchip, memory, routes and irqfds, one vCPU with CPUID and registers.
    KVM_CHECK_EXTENSION, KVM_CREATE_VM, KVM_GET_VCPU_MMAP_SIZE, hv::kvm::kKvmGetSupportedCpuid, KVM_SET_TSS_ADDR,
    KVM_SET_IDENTITY_MAP_ADDR, KVM_CREATE_IRQCHIP, KVM_ENABLE_CAP, KVM_SET_USER_MEMORY_REGION,
    hv::kvm::kKvmSetGsiRouting, KVM_IRQFD, KVM_CREATE_VCPU, hv::kvm::kKvmSetCpuid2, KVM_SET_REGS, KVM_SET_SREGS,
};

absl::Status Failed(int rc, const std::string& what) {
  return absl::ErrnoToStatus(-rc, absl::StrCat("seccomp: ", what));
}

absl::Status AddRules(scmp_filter_ctx ctx) {
  for (int nr : kSyscalls) {
    if (int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0); rc != 0) return Failed(rc, absl::StrCat("syscall ", nr));
  }
#ifdef VMD_SANITIZER_RUNTIME
  for (int nr : kSanitizerSyscalls) {
    if (int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0); rc != 0) return Failed(rc, absl::StrCat("syscall ", nr));
  }
#endif
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
