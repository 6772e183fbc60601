#include "shutdown.hpp"

#include <pthread.h>
#include <signal.h>

namespace pb {

namespace {

sigset_t shutdown_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    return set;
}

}  // namespace

ShutdownSignal::ShutdownSignal(std::function<void()> on_signal)
    : on_signal_(std::move(on_signal)) {
    sigset_t set = shutdown_signals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    waiter_ = std::thread([this, set] {
        int sig = 0;
        while (sigwait(&set, &sig) != 0) {
        }
        if (closing_.load()) return;  // our own destructor's wake-up
        fired_.store(true);
        on_signal_();
    });
}

ShutdownSignal::~ShutdownSignal() {
    if (!fired_.load()) {
        closing_.store(true);
        pthread_kill(waiter_.native_handle(), SIGTERM);
    }
    waiter_.join();
}

}  // namespace pb
