#include "backend/probe/probe_program.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "backend/rpc/error_details.h"

namespace vmd::probe {
namespace {

absl::Status Invalid(int i, const char* field, const std::string& rule) {
  return rpc::InvalidField(absl::StrCat("ops[", i, "].", field), rule);
}

absl::Status ValidateAccess(int i, const char* op, uint64_t address, uint32_t size, uint64_t memory_bytes) {
  if (size != 1 && size != 2 && size != 4 && size != 8) {
    return Invalid(i, absl::StrCat(op, ".size").c_str(), absl::StrCat("must be 1, 2, 4 or 8, got ", size));
  }
  if (address % size != 0) {
    return Invalid(i, absl::StrCat(op, ".address").c_str(), absl::StrCat("must be aligned to ", size));
  }
  if (address >= memory_bytes || memory_bytes - address < size) {
    return Invalid(i, absl::StrCat(op, ".address").c_str(),
                   absl::StrCat("0x", absl::Hex(address), " is beyond guest memory (", memory_bytes, " bytes)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateProbeRequest(const v1::RunProbeRequest& request, uint64_t memory_bytes) {
  if (request.ops_size() == 0 || request.ops_size() > VMD_PROBE_MAX_OPS) {
    return rpc::InvalidField("ops", absl::StrCat("must hold 1 to ", VMD_PROBE_MAX_OPS, " ops, got ", request.ops_size()));
  }
  if (request.timeout_ms() > kMaxTimeoutMs) {
    return rpc::InvalidField("timeout_ms", absl::StrCat("must be at most ", kMaxTimeoutMs));
  }
  for (int i = 0; i < request.ops_size(); ++i) {
    const v1::ProbeOp& op = request.ops(i);
    switch (op.op_case()) {
      case v1::ProbeOp::kWaitInterrupt:
        if (op.wait_interrupt().vector() < 32 || op.wait_interrupt().vector() > 255) {
          return Invalid(i, "wait_interrupt.vector", "must be 32-255");
        }
        if (op.wait_interrupt().timeout_us() > kMaxWaitUs) {
          return Invalid(i, "wait_interrupt.timeout_us", absl::StrCat("must be at most ", kMaxWaitUs));
        }
        break;
      case v1::ProbeOp::kReadMemory: {
        absl::Status s = ValidateAccess(i, "read_memory", op.read_memory().address(), op.read_memory().size(),
                                        memory_bytes);
        if (!s.ok()) return s;
        break;
      }
      case v1::ProbeOp::kWriteMemory: {
        absl::Status s = ValidateAccess(i, "write_memory", op.write_memory().address(), op.write_memory().size(),
                                        memory_bytes);
        if (!s.ok()) return s;
        break;
      }
      case v1::ProbeOp::kSpin:
        if (op.spin().iterations() > kMaxSpinIterations) {
          return Invalid(i, "spin.iterations", absl::StrCat("must be at most ", kMaxSpinIterations));
        }
        break;
      case v1::ProbeOp::OP_NOT_SET:
        return Invalid(i, "op", "must be set");
      default:
        break;
    }
  }
  return absl::OkStatus();
}

std::vector<vmd_probe_op> EncodeProbe(const v1::RunProbeRequest& request) {
  std::vector<vmd_probe_op> ops(static_cast<size_t>(request.ops_size()));
  for (int i = 0; i < request.ops_size(); ++i) {
    const v1::ProbeOp& op = request.ops(i);
    vmd_probe_op& m = ops[static_cast<size_t>(i)];
    std::memset(&m, 0, sizeof(m));
    switch (op.op_case()) {
      case v1::ProbeOp::kRdmsr:
        m.kind = VMD_PROBE_RDMSR;
        m.index = op.rdmsr().index();
        break;
      case v1::ProbeOp::kWrmsr:
        m.kind = VMD_PROBE_WRMSR;
        m.index = op.wrmsr().index();
        m.arg = op.wrmsr().value();
        break;
      case v1::ProbeOp::kCpuid:
        m.kind = VMD_PROBE_CPUID;
        m.index = op.cpuid().leaf();
        m.subleaf = op.cpuid().subleaf();
        break;
      case v1::ProbeOp::kRdtsc:
        m.kind = VMD_PROBE_RDTSC;
        break;
      case v1::ProbeOp::kWaitInterrupt:
        m.kind = VMD_PROBE_WAIT_INTERRUPT;
        m.index = op.wait_interrupt().vector();
        m.subleaf = op.wait_interrupt().timeout_us() == 0 ? kDefaultWaitUs : op.wait_interrupt().timeout_us();
        break;
      case v1::ProbeOp::kReadMemory:
        m.kind = VMD_PROBE_READ_MEM;
        m.index = op.read_memory().size();
        m.arg = op.read_memory().address();
        break;
      case v1::ProbeOp::kWriteMemory:
        m.kind = VMD_PROBE_WRITE_MEM;
        m.index = op.write_memory().size();
        m.arg = op.write_memory().address();
        m.arg2 = op.write_memory().value();
        break;
      case v1::ProbeOp::kSpin:
        m.kind = VMD_PROBE_SPIN;
        m.arg = op.spin().iterations();
        break;
      case v1::ProbeOp::kWriteCr4:
        m.kind = VMD_PROBE_WRITE_CR4;
        m.arg = op.write_cr4().value();
        break;
      case v1::ProbeOp::kXsetbv:
        m.kind = VMD_PROBE_XSETBV;
        m.index = op.xsetbv().xcr();
        m.arg = op.xsetbv().value();
        break;
      case v1::ProbeOp::OP_NOT_SET:
        break;
    }
  }
  return ops;
}

v1::RunProbeResponse DecodeProbe(std::span<const vmd_probe_op> ops) {
  v1::RunProbeResponse response;
  for (const vmd_probe_op& m : ops) {
    v1::ProbeResult* r = response.add_results();
    switch (m.status) {
      case VMD_PROBE_OK: r->set_outcome(v1::PROBE_OUTCOME_OK); break;
      case VMD_PROBE_FAULT:
        r->set_outcome(v1::PROBE_OUTCOME_FAULT);
        r->set_vector(m.vector);
        continue;
      case VMD_PROBE_TIMEOUT: r->set_outcome(v1::PROBE_OUTCOME_TIMEOUT); continue;
      default: r->set_outcome(v1::PROBE_OUTCOME_UNSPECIFIED); continue;
    }
    int values = 0;
    switch (m.kind) {
      case VMD_PROBE_CPUID: values = 4; break;
      case VMD_PROBE_RDMSR:
      case VMD_PROBE_RDTSC:
      case VMD_PROBE_WAIT_INTERRUPT:
      case VMD_PROBE_READ_MEM:
      case VMD_PROBE_WRITE_CR4:
      case VMD_PROBE_SPIN: values = 1; break;
      default: break;
    }
    for (int v = 0; v < values; ++v) r->add_values(m.out[v]);
  }
  return response;
}

}  // namespace vmd::probe
