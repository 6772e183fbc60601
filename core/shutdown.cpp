#include "shutdown.hpp"

#include <pthread.h>
#include <signal.h>

#include "stats.hpp"

namespace pb {

namespace {

sigset_t handled_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    return set;
}

}  // namespace

ShutdownSignal::ShutdownSignal(std::function<void()> on_signal)
    : on_signal_(std::move(on_signal)) {
    sigset_t set = handled_signals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    waiter_ = std::thread([this, set] {
        for (;;) {
            int sig = 0;
            if (sigwait(&set, &sig) != 0) continue;
            if (closing_.load()) return;  // our own destructor's wake-up
            if (sig == SIGUSR1) {
                write_snapshot();
            } else if (!fired_.exchange(true)) {
                on_signal_();
            }
        }
    });
}

ShutdownSignal::~ShutdownSignal() {
    closing_.store(true);
    pthread_kill(waiter_.native_handle(), SIGTERM);
    waiter_.join();
}

}  // namespace pb
