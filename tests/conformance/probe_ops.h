// Builders for probe ops, for the conformance corpora.
#ifndef VMD_TESTS_CONFORMANCE_PROBE_OPS_H_
#define VMD_TESTS_CONFORMANCE_PROBE_OPS_H_

#include <cstdint>

#include "vmd/v1/probe.pb.h"

namespace vmd::conformance {

inline v1::ProbeOp Rdmsr(uint32_t index) {
  v1::ProbeOp op;
  op.mutable_rdmsr()->set_index(index);
  return op;
}
inline v1::ProbeOp Wrmsr(uint32_t index, uint64_t value) {
  v1::ProbeOp op;
  op.mutable_wrmsr()->set_index(index);
  op.mutable_wrmsr()->set_value(value);
  return op;
}
inline v1::ProbeOp Cpuid(uint32_t leaf, uint32_t subleaf = 0) {
  v1::ProbeOp op;
  op.mutable_cpuid()->set_leaf(leaf);
  op.mutable_cpuid()->set_subleaf(subleaf);
  return op;
}
inline v1::ProbeOp Wait(uint32_t vector, uint32_t timeout_us) {
  v1::ProbeOp op;
  op.mutable_wait_interrupt()->set_vector(vector);
  op.mutable_wait_interrupt()->set_timeout_us(timeout_us);
  return op;
}
inline v1::ProbeOp Write(uint64_t address, uint32_t size, uint64_t value) {
  v1::ProbeOp op;
  op.mutable_write_memory()->set_address(address);
  op.mutable_write_memory()->set_size(size);
  op.mutable_write_memory()->set_value(value);
  return op;
}
inline v1::ProbeOp Read(uint64_t address, uint32_t size) {
  v1::ProbeOp op;
  op.mutable_read_memory()->set_address(address);
  op.mutable_read_memory()->set_size(size);
  return op;
}

}  // namespace vmd::conformance

#endif  // VMD_TESTS_CONFORMANCE_PROBE_OPS_H_
