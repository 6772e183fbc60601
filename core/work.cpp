#include "work.hpp"

#include <chrono>
#include <thread>

namespace pb {

void spin_for_us(uint32_t us) {
    if (us == 0) return;
    auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(us);
    volatile uint64_t sink = 0;
    while (std::chrono::steady_clock::now() < until) {
        for (int i = 0; i < 64; ++i) sink = sink + static_cast<uint64_t>(i);
    }
}

void sleep_for_us(uint32_t us) {
    if (us > 0) std::this_thread::sleep_for(std::chrono::microseconds(us));
}

}  // namespace pb
