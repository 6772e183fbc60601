// The I/O multiplexer, one interface with two backends chosen by CMake:
// poller_epoll.cpp (Linux) and poller_kqueue.cpp (BSD/macOS). Callers see neutral
// {fd, mask} events; the kqueue backend merges its separate read and write
// filters per fd so both backends report alike. No virtual dispatch.
//
// A Poller belongs to one thread: every method must be called in that thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "unique_fd.hpp"

namespace pb {

enum : uint32_t {
    kReadable = 1u << 0,
    kWritable = 1u << 1,
    kHangup = 1u << 2,  // peer closed or error; reported, never requested
    // Registration flag for a listening socket shared by several pollers: wake
    // only one of them per connection (EPOLLEXCLUSIVE). kqueue has no equivalent
    // and ignores it.
    kExclusive = 1u << 3,
};

struct PollEvent {
    int fd;
    uint32_t mask;
};

class Poller {
public:
    Poller();
    ~Poller();
    Poller(const Poller&) = delete;
    Poller& operator=(const Poller&) = delete;

    // `old_mask` is what the fd is registered for now: kqueue needs it to know
    // which filters to delete; epoll ignores it.
    void add(int fd, uint32_t mask);
    void modify(int fd, uint32_t old_mask, uint32_t new_mask);
    void remove(int fd, uint32_t old_mask);

    // Waits up to timeout_ms (-1: forever) and fills `out`; returns the count.
    // EINTR returns 0 events rather than an error.
    int wait(std::span<PollEvent> out, int timeout_ms);

    static const char* name();  // "epoll" or "kqueue"

private:
    struct Native;  // the backend's event array, defined in its .cpp
    UniqueFd fd_;
    std::unique_ptr<Native> native_;
};

}  // namespace pb
