// The conformance corpus: probe programs whose results the sim and kvm
// backends must agree on. Each op says how its results compare: exactly,
// by outcome only (values that depend on the host or on time), or through
// per-value masks (fields the engine programs, amid host-specific bits).
// A case with `known_difference` may differ, for that reason (it is reported
// either way; KVM versions differ, so it is not required to differ).
#ifndef VMD_TESTS_CONFORMANCE_PROBE_CORPUS_H_
#define VMD_TESTS_CONFORMANCE_PROBE_CORPUS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "vmd/v1/probe.pb.h"

namespace vmd::conformance {

struct Compare {
  enum class Kind { kExact, kOutcome, kMasked };
  Kind kind = Kind::kExact;
  std::vector<uint64_t> masks;  // kMasked: one per value
};

struct ProbeCase {
  std::string name;
  std::vector<v1::ProbeOp> ops;
  std::vector<Compare> compare;  // one per op
  std::string known_difference;
};

std::vector<ProbeCase> Corpus();

}  // namespace vmd::conformance

#endif  // VMD_TESTS_CONFORMANCE_PROBE_CORPUS_H_
