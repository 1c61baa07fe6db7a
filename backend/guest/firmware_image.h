// The guest firmware (backend/guest/firmware), built with the host compiler
// as a freestanding flat image and embedded in the engine.
#ifndef VMD_BACKEND_GUEST_FIRMWARE_IMAGE_H_
#define VMD_BACKEND_GUEST_FIRMWARE_IMAGE_H_

#include <cstdint>
#include <span>

#include "backend/guest/guest_abi.h"

namespace vmd::guest {

// Where the image goes in guest memory and where every vCPU enters it.
inline constexpr uint64_t kFirmwareLoadGpa = VMD_FIRMWARE_GPA;
inline constexpr uint64_t kFirmwareEntryGpa = VMD_FIRMWARE_ENTRY_GPA;
// The window the image (including its zeroed data) lives in.
inline constexpr uint64_t kFirmwareMaxBytes = VMD_FIRMWARE_MAX_BYTES;

// The flat image: copy it to kFirmwareLoadGpa, after zeroing the window.
std::span<const uint8_t> FirmwareImage();

}  // namespace vmd::guest

#endif  // VMD_BACKEND_GUEST_FIRMWARE_IMAGE_H_
