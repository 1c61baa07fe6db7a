#include "client/msr_policy_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iterator>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"

namespace vmd::client {
namespace {

// The whole file, or errno's text.
absl::StatusOr<std::string> ReadFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::InvalidArgumentError(std::strerror(errno));
  std::string data;
  char buffer[64 * 1024];
  while (true) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int error = errno;  // A directory fails here, with EISDIR.
      close(fd);
      return absl::InvalidArgumentError(std::strerror(error));
    }
    data.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  return data;
}

absl::StatusOr<std::string> ReadStream(std::istream& in) {
  std::string data{std::istreambuf_iterator<char>(in),
                   std::istreambuf_iterator<char>()};
  if (in.bad()) return absl::InvalidArgumentError("read error");
  return data;
}

// The JSON parser's syntax errors are "<message>\n<input around the
// error>\n<caret line>"; vmctl prints one line, so the caret goes and the
// input is quoted: `Unexpected token. near "tru}"`.
std::string OneLineParserMessage(absl::string_view message) {
  std::vector<absl::string_view> lines = absl::StrSplit(message, '\n');
  std::string out(absl::StripAsciiWhitespace(lines.front()));
  if (lines.size() < 3 ||
      absl::StripLeadingAsciiWhitespace(lines.back()) != "^") {
    return out;
  }
  const std::string context = absl::StrJoin(
      std::vector<absl::string_view>(lines.begin() + 1, lines.end() - 1), "\n");
  if (absl::StripAsciiWhitespace(context).empty()) return out;
  absl::StrAppend(&out, " near \"", absl::CEscape(context), "\"");
  return out;
}

}  // namespace

absl::StatusOr<v1::MsrPolicy> ParseMsrPolicyJson(absl::string_view json) {
  if (absl::StripAsciiWhitespace(json).empty()) {
    return absl::InvalidArgumentError("empty; want an MsrPolicy in JSON");
  }
  v1::MsrPolicy policy;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &policy);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not an MsrPolicy in canonical JSON: ",
                     OneLineParserMessage(absl::string_view(
                         status.message().data(), status.message().size()))));
  }
  return policy;
}

absl::StatusOr<v1::MsrPolicy> LoadMsrPolicyFile(const std::string& path,
                                                std::istream& stdin_stream) {
  const bool from_stdin = path == "-";
  const std::string source =
      absl::StrCat("--file ", from_stdin ? "- (stdin)" : path);
  absl::StatusOr<std::string> json =
      from_stdin ? ReadStream(stdin_stream) : ReadFile(path);
  if (!json.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": cannot read: ", json.status().message()));
  }
  absl::StatusOr<v1::MsrPolicy> policy = ParseMsrPolicyJson(*json);
  if (!policy.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": ", policy.status().message()));
  }
  return policy;
}

}  // namespace vmd::client
