#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "signal_fd.hpp"

namespace pb {

SignalFd::SignalFd(std::initializer_list<int> signals) {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : signals) sigaddset(&set, sig);
    // A signal that some thread does not block is delivered to that thread's
    // default action (SIGTERM ends the process) and never reaches the
    // signalfd: blocked here, and in every thread started afterwards, it stays
    // pending until read.
    if (int err = pthread_sigmask(SIG_BLOCK, &set, nullptr); err != 0)
        throw std::system_error(err, std::generic_category(), "pthread_sigmask");
    fd_.reset(check_syscall(::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC), "signalfd"));
}

int SignalFd::take() {
    signalfd_siginfo info;
    for (;;) {
        ssize_t n = ::read(fd_.get(), &info, sizeof info);
        if (n == static_cast<ssize_t>(sizeof info)) return static_cast<int>(info.ssi_signo);
        if (n < 0 && errno == EINTR) continue;
        return 0;  // EAGAIN: none waits
    }
}

}  // namespace pb
