#include "backend/devices/serial.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace vmd::engine {
namespace {

// Register offsets and bits (PC16550D data sheet).
constexpr uint16_t kThrRbrDll = 0, kIerDlm = 1, kIir = 2, kLcr = 3, kMcr = 4, kLsr = 5, kMsr = 6, kScr = 7;
constexpr uint8_t kLcrDlab = 0x80;
constexpr uint8_t kLsrThre = 0x20, kLsrTemt = 0x40;
constexpr uint8_t kIirNoInterrupt = 0x01;
constexpr uint8_t kMsrDcdDsrCts = 0xb0;

}  // namespace

void Serial16550::Write(uint64_t offset, std::span<const uint8_t> data) {
  if (data.empty()) return;
  uint8_t v = data[0];
  std::lock_guard lock(mu_);
  const bool dlab = lcr_ & kLcrDlab;
  switch (offset) {
    case kThrRbrDll:
      if (dlab) {
        dll_ = v;
      } else {
        log_->Append(v);
      }
      break;
    case kIerDlm: (dlab ? dlm_ : ier_) = v; break;
    case kLcr: lcr_ = v; break;
    case kMcr: mcr_ = v; break;
    case kScr: scr_ = v; break;
    default: break;  // FCR and read-only registers
  }
}

void Serial16550::Read(uint64_t offset, std::span<uint8_t> data) {
  if (data.empty()) return;
  std::lock_guard lock(mu_);
  const bool dlab = lcr_ & kLcrDlab;
  uint8_t v = 0;
  switch (offset) {
    case kThrRbrDll: v = dlab ? dll_ : 0; break;
    case kIerDlm: v = dlab ? dlm_ : ier_; break;
    case kIir: v = kIirNoInterrupt; break;
    case kLcr: v = lcr_; break;
    case kMcr: v = mcr_; break;
    case kLsr: v = kLsrThre | kLsrTemt; break;
    case kMsr: v = kMsrDcdDsrCts; break;
    case kScr: v = scr_; break;
  }
  std::fill(data.begin(), data.end(), 0);
  data[0] = v;
}

absl::StatusOr<std::string> Serial16550::Save() {
  std::lock_guard lock(mu_);
  return nlohmann::json{{"ier", ier_}, {"lcr", lcr_}, {"mcr", mcr_}, {"scr", scr_}, {"dll", dll_}, {"dlm", dlm_}}
      .dump();
}

absl::Status Serial16550::Restore(absl::string_view state) {
  const nlohmann::json j = nlohmann::json::parse(state, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return absl::InvalidArgumentError("serial-com1: the saved state is not a JSON object");
  std::lock_guard lock(mu_);
  try {
    ier_ = j.at("ier").get<uint8_t>();
    lcr_ = j.at("lcr").get<uint8_t>();
    mcr_ = j.at("mcr").get<uint8_t>();
    scr_ = j.at("scr").get<uint8_t>();
    dll_ = j.at("dll").get<uint8_t>();
    dlm_ = j.at("dlm").get<uint8_t>();
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("serial-com1: the saved state: ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace vmd::engine
