#include "accepted_socket.hpp"

#include <atomic>
#include <cerrno>

#include "socket.hpp"

namespace pb {

namespace {

// One count for the whole process, so K means "one connection in K" whichever
// thread or loop accepted it.
std::atomic<uint64_t> setsockopt_calls{0};

bool injected_failure(const ServerOptions& options) {
    if (options.fail_setsockopt_every == 0) return false;
    uint64_t n = setsockopt_calls.fetch_add(1, std::memory_order_relaxed) + 1;
    if (n % options.fail_setsockopt_every != 0) return false;
    errno = EINVAL;
    return true;
}

}  // namespace

bool prepare_accepted(int fd, const ServerOptions& options, ThreadStats& stats) noexcept {
    if (!options.nodelay) return true;
    if (injected_failure(options) || !try_set_nodelay(fd, true)) {
        stats.count(ErrorKind::kSocketOption);
        return false;
    }
    return true;
}

}  // namespace pb
