#include "wake_fd.hpp"

#include <fcntl.h>
#ifdef __linux__
#include <sys/eventfd.h>
#endif

#include <array>
#include <cstdint>

namespace pb {

WakeFd::WakeFd() {
#ifdef __linux__
    read_.reset(check_syscall(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), "eventfd"));
#else
    int fds[2];
    check_syscall(::pipe(fds), "pipe");
    read_.reset(fds[0]);
    write_.reset(fds[1]);
    for (int fd : fds) {
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
#endif
}

void WakeFd::notify() noexcept {
    // An eventfd takes exactly 8 bytes; a pipe needs only one.
    uint64_t one = 1;
    int fd = write_.valid() ? write_.get() : read_.get();
    ssize_t n = ::write(fd, &one, write_.valid() ? 1 : sizeof one);
    (void)n;
}

int WakeFd::drain() noexcept {
    std::array<char, 64> sink;
    int calls = 1;
    while (::read(read_.get(), sink.data(), sink.size()) > 0) {
        if (!write_.valid()) break;  // an eventfd is drained by one read
        ++calls;
    }
    return calls;
}

}  // namespace pb
