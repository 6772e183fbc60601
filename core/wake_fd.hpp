// A descriptor that any thread can make readable, for a poller to wait on: an
// eventfd on Linux, a pipe elsewhere (kqueue systems have no eventfd).
//
// Thread rules: notify() may be called from any thread; drain() only by the
// one thread that waits on fd().
#pragma once

#include "unique_fd.hpp"

namespace pb {

class WakeFd {
public:
    // Non-blocking and close-on-exec. Throws std::system_error naming eventfd
    // or pipe.
    WakeFd();
    WakeFd(WakeFd&&) noexcept = default;
    WakeFd& operator=(WakeFd&&) noexcept = default;

    // The descriptor to poll for readability.
    int fd() const { return read_.get(); }

    // Any thread. Makes fd() readable. Never throws and never blocks: a failed
    // write (EAGAIN: already readable, which is all a waker wants) is ignored.
    void notify() noexcept;

    // Makes fd() unreadable again, whatever number of notify() calls came.
    // Returns the read() calls that took (one for an eventfd), for the caller
    // to count.
    int drain() noexcept;

private:
    UniqueFd read_;
    UniqueFd write_;  // invalid for an eventfd: read_ is both ends
};

}  // namespace pb
