// Move-only owner of a file descriptor, plus the one helper that turns a failed
// setup syscall into std::system_error naming the call.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <utility>

namespace pb {

class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    ~UniqueFd() { reset(); }

    UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        if (this != &other) reset(other.release());
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;

    int get() const { return fd_; }
    bool valid() const { return fd_ >= 0; }
    explicit operator bool() const { return valid(); }

    int release() { return std::exchange(fd_, -1); }
    void reset(int fd = -1) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

// Throws std::system_error for errno, with `call` ("bind", "epoll_ctl") as the message.
[[noreturn]] inline void throw_errno(const char* call) {
    throw std::system_error(errno, std::generic_category(), call);
}

// Returns `result` unchanged, or throws naming `call` when it is -1.
template <typename T>
T check_syscall(T result, const char* call) {
    if (result == -1) throw_errno(call);
    return result;
}

}  // namespace pb
