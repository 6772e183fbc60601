// kqueue backend. It cannot be built on the Linux machines this project is
// developed on; it is kept small and symmetric with signal_fd_signalfd.cpp.
#include <signal.h>
#include <sys/event.h>
#include <sys/time.h>
#include <sys/types.h>

#include <fcntl.h>
#include <cerrno>
#include <cstdint>

#include "signal_fd.hpp"

namespace pb {

SignalFd::SignalFd(std::initializer_list<int> signals) : fd_(check_syscall(::kqueue(), "kqueue")) {
    ::fcntl(fd_.get(), F_SETFD, FD_CLOEXEC);
    for (int sig : signals) {
        struct kevent ev;
        EV_SET(&ev, static_cast<uintptr_t>(sig), EVFILT_SIGNAL, EV_ADD, 0, 0, nullptr);
        check_syscall(::kevent(fd_.get(), &ev, 1, nullptr, 0, nullptr), "kevent(EVFILT_SIGNAL)");
        // EVFILT_SIGNAL records every attempt to deliver the signal, even one
        // that is ignored, and ranks below the signal's disposition (kqueue(2)):
        // ignored, the signal reaches the kqueue and nothing else, in any
        // thread, so no mask is needed. libevent does the same. Never for
        // SIGCHLD: ignoring it makes the kernel reap children unseen.
        struct sigaction ignore {};
        ignore.sa_handler = SIG_IGN;
        sigemptyset(&ignore.sa_mask);
        check_syscall(::sigaction(sig, &ignore, nullptr), "sigaction(SIG_IGN)");
    }
}

int SignalFd::take() {
    // A kqueue descriptor polls readable while it holds triggered events; a
    // zero timeout makes this kevent() a non-blocking read of one of them.
    struct kevent ev;
    timespec zero{0, 0};
    for (;;) {
        int n = ::kevent(fd_.get(), nullptr, 0, &ev, 1, &zero);
        if (n == 1) return static_cast<int>(ev.ident);
        if (n < 0 && errno == EINTR) continue;
        return 0;
    }
}

}  // namespace pb
