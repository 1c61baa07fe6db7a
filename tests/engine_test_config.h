// An engine config for in-process engine tests (VmRunner), with the fields
// tests vary.
#ifndef VMD_TESTS_ENGINE_TEST_CONFIG_H_
#define VMD_TESTS_ENGINE_TEST_CONFIG_H_

#include <cstdint>
#include <string>

#include "backend/engine/engine_config.h"

namespace vmd::testing {

// `backend` is "kvm", "sim" or "auto".
inline engine::EngineConfig TestEngineConfig(const std::string& backend, const std::string& workload,
                                             const std::string& runtime_dir, uint32_t vcpus = 2,
                                             uint64_t memory_mib = 32, uint32_t heartbeat_ms = 20) {
  engine::EngineConfig c;
  c.set_vm_id("test");
  c.set_name("test");
  c.set_vcpus(vcpus);
  c.set_memory_mib(memory_mib);
  c.set_backend(backend == "kvm"   ? vmd::v1::BACKEND_KVM
                : backend == "sim" ? vmd::v1::BACKEND_SIM
                                   : vmd::v1::BACKEND_AUTO);
  c.set_workload(workload);
  c.set_heartbeat_ms(heartbeat_ms);
  c.set_runtime_dir(runtime_dir);
  return c;
}

}  // namespace vmd::testing

#endif  // VMD_TESTS_ENGINE_TEST_CONFIG_H_
