#include "client/probe_args.h"

#include <charconv>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace vmd::client {
namespace {

constexpr uint64_t kMaxU32 = std::numeric_limits<uint32_t>::max();
constexpr uint32_t kDefaultAccessSize = 8;

absl::Status Invalid(absl::string_view message) {
  return absl::InvalidArgumentError(message);
}

// The part of `text` named `field` ("IDX", "VALUE") in messages.
absl::StatusOr<uint64_t> ParseField(absl::string_view field,
                                    absl::string_view part,
                                    absl::string_view text, uint64_t max) {
  if (part.empty()) {
    return Invalid(absl::StrCat(field, " is missing in \"", text, "\""));
  }
  absl::StatusOr<uint64_t> number = ParseProbeNumber(part, max);
  if (!number.ok()) {
    return Invalid(absl::StrCat(field, " ", number.status().message()));
  }
  return number;
}

// "A=B" -> {A, B}, at the first '='; an error naming `syntax` without one.
absl::StatusOr<std::pair<absl::string_view, absl::string_view>> SplitAssignment(
    absl::string_view text, absl::string_view syntax) {
  const size_t eq = text.find('=');
  if (eq == absl::string_view::npos) {
    return Invalid(absl::StrCat("want ", syntax, ", got \"", text, "\""));
  }
  return std::make_pair(text.substr(0, eq), text.substr(eq + 1));
}

// "A[,B]" -> {A, B if present}, at the first ','.
std::pair<absl::string_view, std::optional<absl::string_view>> SplitOptional(
    absl::string_view text) {
  const size_t comma = text.find(',');
  if (comma == absl::string_view::npos) return {text, std::nullopt};
  return {text.substr(0, comma), text.substr(comma + 1)};
}

// The optional field after the ',' of `text`, or `fallback` without one.
absl::StatusOr<uint64_t> ParseOptionalField(
    absl::string_view field, std::optional<absl::string_view> part,
    absl::string_view text, uint64_t max, uint64_t fallback) {
  if (!part.has_value()) return fallback;
  return ParseField(field, *part, text, max);
}

// Parses the fields of each op; `text` is the whole flag value.
absl::StatusOr<v1::ProbeOp> ParseRdmsr(absl::string_view text) {
  absl::StatusOr<uint64_t> index = ParseField("IDX", text, text, kMaxU32);
  if (!index.ok()) return index.status();
  v1::ProbeOp op;
  op.mutable_rdmsr()->set_index(static_cast<uint32_t>(*index));
  return op;
}

absl::StatusOr<v1::ProbeOp> ParseWrmsr(absl::string_view text) {
  auto parts = SplitAssignment(text, "IDX=VALUE");
  if (!parts.ok()) return parts.status();
  absl::StatusOr<uint64_t> index =
      ParseField("IDX", parts->first, text, kMaxU32);
  if (!index.ok()) return index.status();
  absl::StatusOr<uint64_t> value =
      ParseField("VALUE", parts->second, text, UINT64_MAX);
  if (!value.ok()) return value.status();
  v1::ProbeOp op;
  op.mutable_wrmsr()->set_index(static_cast<uint32_t>(*index));
  op.mutable_wrmsr()->set_value(*value);
  return op;
}

absl::StatusOr<v1::ProbeOp> ParseCpuid(absl::string_view text) {
  auto [leaf_text, subleaf_text] = SplitOptional(text);
  absl::StatusOr<uint64_t> leaf = ParseField("LEAF", leaf_text, text, kMaxU32);
  if (!leaf.ok()) return leaf.status();
  absl::StatusOr<uint64_t> subleaf =
      ParseOptionalField("SUBLEAF", subleaf_text, text, kMaxU32, 0);
  if (!subleaf.ok()) return subleaf.status();
  v1::ProbeOp op;
  op.mutable_cpuid()->set_leaf(static_cast<uint32_t>(*leaf));
  op.mutable_cpuid()->set_subleaf(static_cast<uint32_t>(*subleaf));
  return op;
}

absl::StatusOr<v1::ProbeOp> ParseWaitInterrupt(absl::string_view text) {
  auto [vector_text, timeout_text] = SplitOptional(text);
  absl::StatusOr<uint64_t> vector =
      ParseField("VECTOR", vector_text, text, kMaxU32);
  if (!vector.ok()) return vector.status();
  absl::StatusOr<uint64_t> timeout_us =
      ParseOptionalField("TIMEOUT_US", timeout_text, text, kMaxU32, 0);
  if (!timeout_us.ok()) return timeout_us.status();
  v1::ProbeOp op;
  op.mutable_wait_interrupt()->set_vector(static_cast<uint32_t>(*vector));
  op.mutable_wait_interrupt()->set_timeout_us(
      static_cast<uint32_t>(*timeout_us));
  return op;
}

absl::StatusOr<v1::ProbeOp> ParseReadMem(absl::string_view text) {
  auto [address_text, size_text] = SplitOptional(text);
  absl::StatusOr<uint64_t> address =
      ParseField("ADDR", address_text, text, UINT64_MAX);
  if (!address.ok()) return address.status();
  absl::StatusOr<uint64_t> size =
      ParseOptionalField("SIZE", size_text, text, kMaxU32, kDefaultAccessSize);
  if (!size.ok()) return size.status();
  v1::ProbeOp op;
  op.mutable_read_memory()->set_address(*address);
  op.mutable_read_memory()->set_size(static_cast<uint32_t>(*size));
  return op;
}

absl::StatusOr<v1::ProbeOp> ParseWriteMem(absl::string_view text) {
  auto parts = SplitAssignment(text, "ADDR=VALUE[,SIZE]");
  if (!parts.ok()) return parts.status();
  auto [value_text, size_text] = SplitOptional(parts->second);
  absl::StatusOr<uint64_t> address =
      ParseField("ADDR", parts->first, text, UINT64_MAX);
  if (!address.ok()) return address.status();
  absl::StatusOr<uint64_t> value =
      ParseField("VALUE", value_text, text, UINT64_MAX);
  if (!value.ok()) return value.status();
  absl::StatusOr<uint64_t> size =
      ParseOptionalField("SIZE", size_text, text, kMaxU32, kDefaultAccessSize);
  if (!size.ok()) return size.status();
  // Other sizes are the server's to reject; these the guest would truncate.
  if ((*size == 1 || *size == 2 || *size == 4) &&
      (*value >> (8 * *size)) != 0) {
    return Invalid(absl::StrCat("VALUE \"", value_text, "\" does not fit in ",
                                *size, *size == 1 ? " byte" : " bytes"));
  }
  v1::ProbeOp op;
  op.mutable_write_memory()->set_address(*address);
  op.mutable_write_memory()->set_value(*value);
  op.mutable_write_memory()->set_size(static_cast<uint32_t>(*size));
  return op;
}

absl::StatusOr<v1::ProbeOp> ParseSpin(absl::string_view text) {
  absl::StatusOr<uint64_t> iterations = ParseField("N", text, text, UINT64_MAX);
  if (!iterations.ok()) return iterations.status();
  v1::ProbeOp op;
  op.mutable_spin()->set_iterations(*iterations);
  return op;
}

absl::StatusOr<v1::ProbeOp> ParseWriteCr4(absl::string_view text) {
  absl::StatusOr<uint64_t> value = ParseField("VALUE", text, text, UINT64_MAX);
  if (!value.ok()) return value.status();
  v1::ProbeOp op;
  op.mutable_write_cr4()->set_value(*value);
  return op;
}

absl::StatusOr<v1::ProbeOp> ParseXsetbv(absl::string_view text) {
  const size_t eq = text.find('=');
  if (eq == absl::string_view::npos) return Invalid(absl::StrCat("\"", text, "\" is not XCR=VALUE"));
  absl::StatusOr<uint64_t> xcr = ParseField("XCR", text.substr(0, eq), text, UINT32_MAX);
  if (!xcr.ok()) return xcr.status();
  absl::StatusOr<uint64_t> value = ParseField("VALUE", text.substr(eq + 1), text, UINT64_MAX);
  if (!value.ok()) return value.status();
  v1::ProbeOp op;
  op.mutable_xsetbv()->set_xcr(static_cast<uint32_t>(*xcr));
  op.mutable_xsetbv()->set_value(*value);
  return op;
}

}  // namespace

const std::vector<ProbeFlagSpec>& ProbeFlagSpecs() {
  static const std::vector<ProbeFlagSpec>* const specs =
      new std::vector<ProbeFlagSpec>{
          {ProbeFlag::kRdmsr, "--rdmsr", "IDX", "RDMSR of MSR IDX"},
          {ProbeFlag::kWrmsr, "--wrmsr", "IDX=VALUE",
           "WRMSR of VALUE to MSR IDX"},
          {ProbeFlag::kCpuid, "--cpuid", "LEAF[,SUBLEAF]",
           "CPUID of LEAF, SUBLEAF (default 0)"},
          {ProbeFlag::kRdtsc, "--rdtsc", "", "RDTSC"},
          {ProbeFlag::kWaitInterrupt, "--wait-interrupt", "VECTOR[,TIMEOUT_US]",
           "Wait for an interrupt of VECTOR (32-255), at most TIMEOUT_US "
           "(default 1000000)"},
          {ProbeFlag::kReadMem, "--read-mem", "ADDR[,SIZE]",
           "Read SIZE bytes (1, 2, 4 or 8; default 8) of guest memory at "
           "ADDR"},
          {ProbeFlag::kWriteMem, "--write-mem", "ADDR=VALUE[,SIZE]",
           "Write VALUE as SIZE bytes (default 8) of guest memory at ADDR"},
          {ProbeFlag::kSpin, "--spin", "N", "Busy loop of N iterations"},
          {ProbeFlag::kWriteCr4, "--write-cr4", "VALUE",
           "MOV to CR4 (keep PAE, OSFXSR, OSXMMEXCPT: 0x620); shows CR4 "
           "read back"},
          {ProbeFlag::kXsetbv, "--xsetbv", "XCR=VALUE",
           "XSETBV of VALUE to XCR (needs CR4.OSXSAVE)"},
      };
  return *specs;
}

const ProbeFlagSpec& GetProbeFlagSpec(ProbeFlag flag) {
  for (const ProbeFlagSpec& spec : ProbeFlagSpecs()) {
    if (spec.flag == flag) return spec;
  }
  return ProbeFlagSpecs().front();  // Unreachable: every flag has a spec.
}

absl::StatusOr<uint64_t> ParseProbeNumber(absl::string_view text,
                                          uint64_t max) {
  absl::string_view digits = text;
  int base = 10;
  if (digits.size() > 2 && digits[0] == '0' &&
      (digits[1] == 'x' || digits[1] == 'X')) {
    digits.remove_prefix(2);
    base = 16;
  }
  uint64_t value = 0;
  // from_chars takes no sign, prefix or spaces for unsigned types.
  const auto [end, error] = std::from_chars(
      digits.data(), digits.data() + digits.size(), value, base);
  const bool all_digits = end == digits.data() + digits.size();
  if (digits.empty() || !all_digits ||
      (error != std::errc() && error != std::errc::result_out_of_range)) {
    return Invalid(
        absl::StrCat("\"", text, "\" is not a decimal or 0x-hex number"));
  }
  if (error == std::errc::result_out_of_range || value > max) {
    return Invalid(absl::StrCat("\"", text, "\" is out of range (at most 0x",
                                absl::Hex(max), ")"));
  }
  return value;
}

absl::StatusOr<v1::ProbeOp> ParseProbeOp(ProbeFlag flag,
                                         absl::string_view text) {
  switch (flag) {
    case ProbeFlag::kRdmsr:
      return ParseRdmsr(text);
    case ProbeFlag::kWrmsr:
      return ParseWrmsr(text);
    case ProbeFlag::kCpuid:
      return ParseCpuid(text);
    case ProbeFlag::kRdtsc: {
      v1::ProbeOp op;
      op.mutable_rdtsc();
      return op;
    }
    case ProbeFlag::kWaitInterrupt:
      return ParseWaitInterrupt(text);
    case ProbeFlag::kReadMem:
      return ParseReadMem(text);
    case ProbeFlag::kWriteMem:
      return ParseWriteMem(text);
    case ProbeFlag::kSpin:
      return ParseSpin(text);
    case ProbeFlag::kWriteCr4:
      return ParseWriteCr4(text);
    case ProbeFlag::kXsetbv:
      return ParseXsetbv(text);
  }
  return absl::InternalError("unknown probe flag");
}

absl::StatusOr<std::vector<v1::ProbeOp>> ParseProbeOps(
    const std::vector<GivenProbeFlag>& given) {
  if (given.empty()) {
    std::vector<std::string> names;
    for (const ProbeFlagSpec& spec : ProbeFlagSpecs()) {
      names.push_back(spec.name);
    }
    return Invalid(absl::StrCat("probe needs at least one op: ",
                                absl::StrJoin(names, ", ")));
  }
  std::vector<v1::ProbeOp> ops;
  ops.reserve(given.size());
  for (const GivenProbeFlag& flag : given) {
    absl::StatusOr<v1::ProbeOp> op = ParseProbeOp(flag.flag, flag.text);
    if (!op.ok()) {
      return Invalid(absl::StrCat(GetProbeFlagSpec(flag.flag).name, ": ",
                                  op.status().message()));
    }
    ops.push_back(*std::move(op));
  }
  return ops;
}

}  // namespace vmd::client
