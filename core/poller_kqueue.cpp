// kqueue backend. It cannot be built on the Linux machines this project is
// developed on; it is kept small and line-for-line symmetric with poller_epoll.cpp.
#include <sys/event.h>
#include <sys/time.h>
#include <sys/types.h>

#include <vector>

#include "poller.hpp"

namespace pb {

struct Poller::Native {
    std::vector<struct kevent> events;
};

namespace {

void change(int kq, int fd, int16_t filter, uint16_t flags, bool ignore_errors) {
    struct kevent ev;
    EV_SET(&ev, fd, filter, flags, 0, 0, nullptr);
    if (::kevent(kq, &ev, 1, nullptr, 0, nullptr) == -1 && !ignore_errors) throw_errno("kevent");
}

}  // namespace

Poller::Poller() : fd_(check_syscall(::kqueue(), "kqueue")), native_(std::make_unique<Native>()) {}

Poller::~Poller() = default;

void Poller::add(int fd, uint32_t mask) {
    modify(fd, 0, mask);
}

void Poller::modify(int fd, uint32_t old_mask, uint32_t new_mask) {
    // kqueue keeps one filter per direction: add what is new, delete what went.
    if ((new_mask & kReadable) && !(old_mask & kReadable))
        change(fd_.get(), fd, EVFILT_READ, EV_ADD, false);
    if (!(new_mask & kReadable) && (old_mask & kReadable))
        change(fd_.get(), fd, EVFILT_READ, EV_DELETE, true);
    if ((new_mask & kWritable) && !(old_mask & kWritable))
        change(fd_.get(), fd, EVFILT_WRITE, EV_ADD, false);
    if (!(new_mask & kWritable) && (old_mask & kWritable))
        change(fd_.get(), fd, EVFILT_WRITE, EV_DELETE, true);
}

void Poller::remove(int fd, uint32_t old_mask) {
    modify(fd, old_mask, 0);
}

int Poller::wait(std::span<PollEvent> out, int timeout_ms) {
    auto& events = native_->events;
    if (events.size() < out.size()) events.resize(out.size());
    timespec ts{timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
    int n = ::kevent(fd_.get(), nullptr, 0, events.data(), static_cast<int>(out.size()),
                     timeout_ms < 0 ? nullptr : &ts);
    if (n < 0) {
        if (errno == EINTR) return 0;
        throw_errno("kevent");
    }
    // Merge the read and write filters of one fd into a single event.
    int count = 0;
    for (int i = 0; i < n; ++i) {
        const struct kevent& ev = events[static_cast<size_t>(i)];
        int fd = static_cast<int>(ev.ident);
        uint32_t mask = ev.filter == EVFILT_READ ? kReadable : kWritable;
        if (ev.flags & (EV_EOF | EV_ERROR)) mask |= kHangup | kReadable;
        if (count > 0 && out[static_cast<size_t>(count - 1)].fd == fd) {
            out[static_cast<size_t>(count - 1)].mask |= mask;
        } else {
            out[static_cast<size_t>(count++)] = {fd, mask};
        }
    }
    return count;
}

const char* Poller::name() {
    return "kqueue";
}

}  // namespace pb
