// Simulated work a request asks for: CPU busy-work and a blocking sleep.
#pragma once

#include <cstdint>

namespace pb {

// Burns CPU on this thread for `us` microseconds of wall time (a tight loop
// reading the clock, so it scales with neither compiler nor CPU speed).
void spin_for_us(uint32_t us);
// Blocks this thread for `us` microseconds, like a slow downstream call.
void sleep_for_us(uint32_t us);

}  // namespace pb
