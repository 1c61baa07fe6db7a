#include "tests/kvm/kvm_test_vm.h"

#include <algorithm>
#include <cstring>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "backend/guest/firmware_loader.h"
#include "backend/hypervisor/kvm/kvm_hypervisor.h"

namespace vmd::hv::testing {
namespace {

constexpr uint16_t kUartLsr = VMD_PORT_COM1 + 5;
constexpr uint8_t kLsrTransmitterEmpty = 0x60;  // THRE | TEMT

}  // namespace

const BackendAvailability& Kvm() {
  static const BackendAvailability* availability = new BackendAvailability(ProbeKvm());
  return *availability;
}

TestVmOptions Options(uint32_t workload, uint32_t vcpus, uint32_t heartbeat_ms) {
  TestVmOptions options;
  options.workload = workload;
  options.vcpus = vcpus;
  options.heartbeat_ms = heartbeat_ms;
  return options;
}

void AnnounceRealKvm() { std::cout << "[kvm] ran on real KVM" << std::endl; }

absl::StatusOr<std::unique_ptr<TestVm>> TestVm::Create(const TestVmOptions& options) {
  std::unique_ptr<TestVm> t(new TestVm());
  t->options_ = options;
  absl::StatusOr<std::unique_ptr<Hypervisor>> hv = OpenHypervisor(options.backend, "");
  if (!hv.ok()) return hv.status();
  t->hypervisor_ = *std::move(hv);

  absl::StatusOr<std::unique_ptr<Vm>> vm = t->hypervisor_->CreateVm({.vcpus = options.vcpus});
  if (!vm.ok()) return vm.status();
  t->vm_ = *std::move(vm);

  absl::StatusOr<std::unique_ptr<GuestMemory>> memory = GuestMemory::Create({{0, options.memory_bytes}});
  if (!memory.ok()) return memory.status();
  t->memory_ = *std::move(memory);
  if (absl::Status s = t->vm_->MapMemory(*t->memory_); !s.ok()) return s;
  for (uint32_t i = 0; i < options.vcpus; ++i) {
    absl::StatusOr<std::unique_ptr<Vcpu>> vcpu = t->vm_->CreateVcpu(i);
    if (!vcpu.ok()) return vcpu.status();
    t->vcpus_.push_back(*std::move(vcpu));
  }
  absl::StatusOr<uint64_t> tsc_khz = t->vcpus_[0]->TscKhz();
  if (!tsc_khz.ok()) return tsc_khz.status();

  vmd_boot_info* boot = t->memory_->At<vmd_boot_info>(VMD_BOOT_INFO_GPA);
  *boot = vmd_boot_info{};
  boot->magic = options.boot_magic;
  boot->workload = options.workload;
  boot->vcpus = options.vcpus;
  boot->heartbeat_ms = options.heartbeat_ms;
  boot->memory_bytes = options.memory_bytes;
  boot->tsc_khz = *tsc_khz;
  if (absl::Status s = guest::LoadFirmware(*t->memory_, options.vcpus); !s.ok()) return s;
  for (auto& vcpu : t->vcpus_) {
    if (absl::Status s = vcpu->SetBootEntry(guest::FirmwareEntry(vcpu->id())); !s.ok()) return s;
  }
  return t;
}

absl::StatusOr<std::unique_ptr<TestVm>> TestVm::MoveStateToNewVm() {
  Stop();
  absl::StatusOr<VmState> vm_state = vm_->SaveState();
  if (!vm_state.ok()) return vm_state.status();
  std::vector<VcpuState> vcpu_states;
  for (auto& vcpu : vcpus_) {
    absl::StatusOr<VcpuState> state = vcpu->SaveState();
    if (!state.ok()) return state.status();
    vcpu_states.push_back(*std::move(state));
  }
  std::unique_ptr<TestVm> t(new TestVm());
  t->options_ = options_;
  t->hypervisor_ = hypervisor_;
  t->memory_ = memory_;
  t->msr_handler_ = msr_handler_;
  {
    absl::MutexLock lock(&mu_);
    t->console_ = console_;
  }
  absl::StatusOr<std::unique_ptr<Vm>> vm = hypervisor_->CreateVm({.vcpus = options_.vcpus});
  if (!vm.ok()) return vm.status();
  t->vm_ = *std::move(vm);
  if (absl::Status s = t->vm_->MapMemory(*t->memory_); !s.ok()) return s;
  if (absl::Status s = t->vm_->RestoreState(*vm_state); !s.ok()) return s;
  for (const VcpuState& state : vcpu_states) {
    absl::StatusOr<std::unique_ptr<Vcpu>> vcpu = t->vm_->CreateVcpu(state.id);
    if (!vcpu.ok()) return vcpu.status();
    if (absl::Status s = (*vcpu)->RestoreState(state); !s.ok()) return s;
    t->vcpus_.push_back(*std::move(vcpu));
  }
  return t;
}

TestVm::~TestVm() {
  Stop();
  vcpus_.clear();
  vm_.reset();
  memory_.reset();
}

void TestVm::Start() {
  for (uint32_t i = 0; i < vcpus_.size(); ++i) {
    threads_.emplace_back([this, i] { VcpuLoop(i); });
  }
}

void TestVm::Stop() {
  stop_.store(true);
  for (auto& vcpu : vcpus_) vcpu->Kick();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

void TestVm::VcpuLoop(uint32_t id) {
  Vcpu& vcpu = *vcpus_[id];
  while (!stop_.load()) {
    absl::StatusOr<VcpuExit> exit = vcpu.Run();
    if (!exit.ok()) {
      absl::MutexLock lock(&mu_);
      errors_.push_back(absl::StrCat("vcpu ", id, ": ", exit.status().ToString()));
      return;
    }
    switch (exit->kind) {
      case ExitKind::kMmioRead:
      case ExitKind::kMmioWrite: {
        absl::MutexLock lock(&mu_);
        errors_.push_back(absl::StrCat("vcpu ", id, ": unexpected MMIO at 0x", absl::Hex(exit->address)));
        std::fill(exit->data.begin(), exit->data.end(), 0xff);
        vcpu.CompleteMmioRead(exit->data);
        break;
      }
      case ExitKind::kIoOut: {
        if (exit->port == VMD_PORT_COM1 && !exit->data.empty()) {
          absl::MutexLock lock(&mu_);
          console_.push_back(static_cast<char>(exit->data[0]));
        } else if (exit->port == VMD_PORT_PROBE_DONE && exit->data.size() == 4) {
          absl::MutexLock lock(&mu_);
          std::memcpy(&probe_done_, exit->data.data(), sizeof(probe_done_));
        } else if (exit->port == VMD_PORT_POWER && !exit->data.empty()) {
          absl::MutexLock lock(&mu_);
          power_off_code_ = exit->data[0];
        } else {
          absl::MutexLock lock(&mu_);
          errors_.push_back(absl::StrCat("vcpu ", id, ": unexpected OUT to port 0x",
                                         absl::Hex(exit->port)));
        }
        break;
      }
      case ExitKind::kIoIn: {
        // Filled in place, as the engine's io bus does.
        std::fill(exit->data.begin(), exit->data.end(), 0xff);
        if (exit->port == kUartLsr && !exit->data.empty()) exit->data[0] = kLsrTransmitterEmpty;
        vcpu.CompleteIoIn(exit->data);
        break;
      }
      case ExitKind::kMsrRead:
      case ExitKind::kMsrWrite: {
        MsrAnswer answer = msr_handler_ ? msr_handler_(id, *exit) : MsrAnswer{};
        vcpu.CompleteMsr(answer.value, answer.inject_gp);
        break;
      }
      case ExitKind::kInterrupted:
        interrupted_.fetch_add(1);
        break;
      case ExitKind::kShutdown:
      case ExitKind::kInternalError: {
        std::string registers = vcpu.DumpRegisters();
        absl::MutexLock lock(&mu_);
        crashes_.push_back(Crash{id, exit->kind, exit->reason, std::move(registers)});
        return;
      }
    }
  }
}

bool TestVm::WaitFor(const std::function<bool()>& done, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

bool TestVm::WaitForConsole(const std::string& text, absl::Duration timeout) {
  return WaitFor([&] { return console().find(text) != std::string::npos; }, timeout);
}

std::string TestVm::console() const {
  absl::MutexLock lock(&mu_);
  return console_;
}

std::optional<uint8_t> TestVm::power_off_code() const {
  absl::MutexLock lock(&mu_);
  return power_off_code_;
}

uint32_t TestVm::probe_done() const {
  absl::MutexLock lock(&mu_);
  return probe_done_;
}

std::vector<TestVm::Crash> TestVm::crashes() const {
  absl::MutexLock lock(&mu_);
  return crashes_;
}

std::vector<std::string> TestVm::errors() const {
  absl::MutexLock lock(&mu_);
  return errors_;
}

vmd_guest_status TestVm::status() const {
  return VolatileCopy<vmd_guest_status>(*memory_, VMD_GUEST_STATUS_GPA);
}

vmd_guest_diag TestVm::diag() const {
  return VolatileCopy<vmd_guest_diag>(*memory_, VMD_GUEST_DIAG_GPA);
}

uint64_t TestVm::boot_tsc_khz() const {
  return VolatileCopy<vmd_boot_info>(*memory_, VMD_BOOT_INFO_GPA).tsc_khz;
}

}  // namespace vmd::hv::testing
