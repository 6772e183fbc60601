#include "shutdown.hpp"

#include <signal.h>

#include "event_loop.hpp"
#include "stats.hpp"

namespace pb {

ShutdownSignal::ShutdownSignal(std::function<void()> on_signal)
    : signals_({SIGINT, SIGTERM, SIGUSR1}), on_signal_(std::move(on_signal)) {}

ShutdownSignal::ShutdownSignal(EventLoop& loop, std::function<void()> on_signal)
    : ShutdownSignal(std::move(on_signal)) {
    loop.watch(signals_.fd(), kReadable, [this](uint32_t) { dispatch(); });
}

void ShutdownSignal::dispatch() {
    while (int sig = signals_.take()) {
        if (sig == SIGUSR1) {
            write_snapshot();
        } else if (!fired_) {
            fired_ = true;
            on_signal_();
        }
    }
}

}  // namespace pb
