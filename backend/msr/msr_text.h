// How MSRs, spans and rules are named in errors and warnings, so that every
// message of the library reads the same.
#ifndef VMD_BACKEND_MSR_MSR_TEXT_H_
#define VMD_BACKEND_MSR_MSR_TEXT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "vmd/v1/msr.pb.h"

namespace vmd::msr {

// "0x35".
std::string MsrHex(uint64_t index);
// MSRs [begin, end): "0x35" for one, "0x10-0x1f" for more (inclusive).
std::string MsrSpanText(uint64_t begin, uint64_t end);
// "0x10-0x1f READ_WRITE DENY".
std::string RuleText(const v1::MsrRule& rule);
// "rules[0], rules[2]" (rule indexes; -1 reads "default_action"); at most
// `limit` names, then "and N more".
std::string RuleListText(const std::vector<int>& rules, size_t limit = 8);

}  // namespace vmd::msr

#endif  // VMD_BACKEND_MSR_MSR_TEXT_H_
