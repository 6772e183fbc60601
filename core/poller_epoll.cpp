#include <sys/epoll.h>

#include <vector>

#include "poller.hpp"

namespace pb {

struct Poller::Native {
    std::vector<epoll_event> events;
};

namespace {

uint32_t to_epoll(uint32_t mask) {
    uint32_t e = 0;
    if (mask & kReadable) e |= EPOLLIN | EPOLLRDHUP;
    if (mask & kWritable) e |= EPOLLOUT;
#ifdef EPOLLEXCLUSIVE
    // EPOLLEXCLUSIVE admits only IN/OUT/ERR/HUP/ET/WAKEUP: with EPOLLRDHUP,
    // epoll_ctl fails with EINVAL. Exclusive fds are listeners, which have no
    // peer to hang up, so nothing is lost.
    if (mask & kExclusive) e = (e & ~uint32_t{EPOLLRDHUP}) | EPOLLEXCLUSIVE;
#endif
    return e;
}

}  // namespace

Poller::Poller()
    : fd_(check_syscall(::epoll_create1(EPOLL_CLOEXEC), "epoll_create1")),
      native_(std::make_unique<Native>()) {}

Poller::~Poller() = default;

void Poller::add(int fd, uint32_t mask) {
    epoll_event ev{};
    ev.events = to_epoll(mask);
    ev.data.fd = fd;
    check_syscall(::epoll_ctl(fd_.get(), EPOLL_CTL_ADD, fd, &ev), "epoll_ctl(ADD)");
}

void Poller::modify(int fd, uint32_t /*old_mask*/, uint32_t new_mask) {
    epoll_event ev{};
    // EPOLLEXCLUSIVE may not be used with EPOLL_CTL_MOD; exclusive fds are
    // listeners that are only ever added and removed.
    ev.events = to_epoll(new_mask & ~kExclusive);
    ev.data.fd = fd;
    check_syscall(::epoll_ctl(fd_.get(), EPOLL_CTL_MOD, fd, &ev), "epoll_ctl(MOD)");
}

void Poller::remove(int fd, uint32_t /*old_mask*/) {
    // Ignore ENOENT/EBADF: the fd may already have been closed, which removes it.
    ::epoll_ctl(fd_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

int Poller::wait(std::span<PollEvent> out, int timeout_ms) {
    auto& events = native_->events;
    if (events.size() < out.size()) events.resize(out.size());
    int n = ::epoll_wait(fd_.get(), events.data(), static_cast<int>(out.size()), timeout_ms);
    if (n < 0) {
        if (errno == EINTR) return 0;
        throw_errno("epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
        uint32_t e = events[static_cast<size_t>(i)].events;
        uint32_t mask = 0;
        // A hang-up or error is reported as readable too, so the read path meets
        // the EOF or the error and handles it in one place.
        if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) mask |= kReadable;
        if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) mask |= kWritable;
        if (e & (EPOLLHUP | EPOLLERR)) mask |= kHangup;
        out[static_cast<size_t>(i)] = {events[static_cast<size_t>(i)].data.fd, mask};
    }
    return n;
}

const char* Poller::name() {
    return "epoll";
}

}  // namespace pb
