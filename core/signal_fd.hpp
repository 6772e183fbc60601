// The process's signals as a descriptor that is readable while one waits, so
// an event loop (or a thread in poll()) takes them like any other event and
// no thread is spent waiting for them. Two backends chosen by CMake, like the
// Poller's: signal_fd_signalfd.cpp (Linux signalfd) and signal_fd_kqueue.cpp
// (BSD/macOS: a kqueue of EVFILT_SIGNAL filters, itself a pollable descriptor).
//
// Thread rules: construct before any other thread exists (the Linux backend
// blocks the signals in the calling thread, and only threads started
// afterwards inherit that mask). take() may then be called from one thread at
// a time, any thread.
#pragma once

#include <initializer_list>

#include "unique_fd.hpp"

namespace pb {

class SignalFd {
public:
    // Takes `signals` away from their default action for the whole process:
    // from now on they only make fd() readable. Throws std::system_error.
    explicit SignalFd(std::initializer_list<int> signals);
    SignalFd(const SignalFd&) = delete;
    SignalFd& operator=(const SignalFd&) = delete;

    int fd() const { return fd_.get(); }

    // Never blocks: the number of a signal that arrived, or 0 when none waits.
    // Like any pending signal, several of one kind that arrive before it is
    // taken may be taken as one.
    int take();

private:
    UniqueFd fd_;
};

}  // namespace pb
