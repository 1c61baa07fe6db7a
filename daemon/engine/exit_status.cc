#include "daemon/engine/exit_status.h"

#include <fstream>
#include <sstream>

#include "backend/rpc/proto_json.h"

namespace vmd::daemon {

engine::v1::ExitRecord ReadExitRecord(const VmPaths& paths) {
  std::ifstream in(paths.exit_record());
  if (!in) return {};
  std::stringstream text;
  text << in.rdbuf();
  engine::v1::ExitRecord record;
  if (!rpc::FromJson(text.str(), &record).ok()) return {};
  return record;
}

v1::ExitStatus MakeExitStatus(const std::optional<EngineExit>& exit, const engine::v1::ExitRecord& record,
                              std::string reason) {
  v1::ExitStatus status;
  status.set_code(exit ? exit->code : -1);
  status.set_signal(exit ? exit->signal : 0);
  status.set_reason(std::move(reason));
  status.set_register_dump(record.register_dump());
  return status;
}

}  // namespace vmd::daemon
