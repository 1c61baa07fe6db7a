#include "client/command.h"

#include <string>

namespace vmd::client {

void AddName(CLI::App* app, std::string& name) {
  app->add_option("NAME", name, "VM name")->required();
}

void AddRequestId(CLI::App* app, std::string& request_id) {
  app->add_option("--request-id", request_id,
                  "Idempotency key: a retry with the same id returns the "
                  "first answer");
}

}  // namespace vmd::client
