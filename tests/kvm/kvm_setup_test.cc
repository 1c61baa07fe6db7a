// The kvm backend's own checks: required capabilities (without /dev/kvm),
// and, with it, the probe, the supported CPUID and VM configuration rules.
#include <fcntl.h>
#include <linux/kvm.h>
#include <unistd.h>

#include <algorithm>

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "backend/cpu/cpuid_builder.h"
#include "backend/guest/guest_abi.h"
#include "backend/hypervisor/kvm/kvm_capabilities.h"
#include "backend/hypervisor/kvm/kvm_cpuid.h"
#include "backend/hypervisor/kvm/kvm_fd.h"
#include "backend/hypervisor/kvm/kvm_hypervisor.h"
#include "backend/memory/guest_memory.h"
#include "gtest/gtest.h"
#include "tests/kvm/kvm_test_vm.h"

namespace vmd::hv::testing {
namespace {

TEST(KvmCpuidTest, RealSupportedCpuidIsAdjustedPerVcpu) {
  VMD_REQUIRE_KVM();
  absl::StatusOr<kvm::Fd> kvm_fd = kvm::OpenKvmDevice();
  ASSERT_TRUE(kvm_fd.ok()) << kvm_fd.status();
  absl::StatusOr<cpu::CpuidTable> supported = kvm::GetSupportedCpuid(kvm_fd->get());
  ASSERT_TRUE(supported.ok()) << supported.status();
  ASSERT_GT(supported->size(), 10u);
  for (uint32_t id = 0; id < 2; ++id) {
    cpu::CpuidTable cpuid = cpu::BuildVcpuCpuid(*supported, {.vcpu_id = id, .vcpus = 2});
    EXPECT_EQ(cpu::FindCpuid(cpuid, 1)->ebx >> 24, id);
    EXPECT_EQ(cpu::FindCpuid(cpuid, 0xb, 0)->edx, id);
    EXPECT_NE(cpu::FindCpuid(cpuid, 1)->ecx & (1u << 21), 0u);
  }
}

TEST(KvmCapabilitiesTest, EveryRequiredCapabilityHasAName) {
  for (const kvm::RequiredCapability& cap : kvm::RequiredCapabilities()) {
    EXPECT_TRUE(absl::StartsWith(cap.name, "KVM_CAP_")) << cap.name;
    EXPECT_GE(cap.capability, 0) << cap.name;  // KVM_CAP_IRQCHIP is 0
  }
}

TEST(KvmCapabilitiesTest, MissingCapabilitiesAreNamed) {
  // Not a KVM fd: every check fails, so every capability is reported.
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  std::vector<std::string> missing = kvm::MissingCapabilities(fd);
  close(fd);
  ASSERT_EQ(missing.size(), kvm::RequiredCapabilities().size());
  EXPECT_EQ(missing.front(), "KVM_CAP_IRQCHIP");
  EXPECT_NE(std::find(missing.begin(), missing.end(), "KVM_CAP_X86_MSR_FILTER"), missing.end());
  EXPECT_NE(std::find(missing.begin(), missing.end(), "KVM_CAP_IMMEDIATE_EXIT"), missing.end());
}

TEST(KvmProbeTest, ReportsUsableWithAVcpuLimit) {
  VMD_REQUIRE_KVM();
  BackendAvailability availability = ProbeKvm();
  EXPECT_EQ(availability.kind, BackendKind::kKvm);
  EXPECT_TRUE(availability.usable);
  EXPECT_TRUE(availability.reason.empty()) << availability.reason;
  EXPECT_GE(availability.max_vcpus, 2u);
  absl::StatusOr<std::unique_ptr<Hypervisor>> hv = OpenKvm();
  ASSERT_TRUE(hv.ok()) << hv.status();
  EXPECT_EQ((*hv)->kind(), BackendKind::kKvm);
  EXPECT_EQ((*hv)->MaxVcpus(), availability.max_vcpus);
}

TEST(KvmVmTest, ConfigurationIsValidated) {
  VMD_REQUIRE_KVM();
  absl::StatusOr<std::unique_ptr<Hypervisor>> hv = OpenKvm();
  ASSERT_TRUE(hv.ok()) << hv.status();
  EXPECT_EQ((*hv)->CreateVm({.vcpus = 0}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*hv)->CreateVm({.vcpus = (*hv)->MaxVcpus() + 1}).status().code(), absl::StatusCode::kInvalidArgument);

  absl::StatusOr<std::unique_ptr<Vm>> vm = (*hv)->CreateVm({.vcpus = 2});
  ASSERT_TRUE(vm.ok()) << vm.status();
  absl::StatusOr<std::unique_ptr<GuestMemory>> ram = GuestMemory::Create({{0, 32ull << 20}});
  ASSERT_TRUE(ram.ok());
  ASSERT_TRUE((*vm)->MapMemory(**ram).ok());
  EXPECT_EQ((*vm)->MapMemory(**ram).code(), absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<std::unique_ptr<Vcpu>> vcpu0 = (*vm)->CreateVcpu(0);
  ASSERT_TRUE(vcpu0.ok()) << vcpu0.status();
  EXPECT_EQ((*vcpu0)->id(), 0u);
  EXPECT_EQ((*vm)->CreateVcpu(0).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ((*vm)->CreateVcpu(2).status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<uint64_t> khz = (*vcpu0)->TscKhz();
  ASSERT_TRUE(khz.ok()) << khz.status();
  EXPECT_GT(*khz, 100000u);  // > 100 MHz
}

}  // namespace
}  // namespace vmd::hv::testing
