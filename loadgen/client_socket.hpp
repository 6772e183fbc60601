// Client-side socket pieces the load generator needs without exceptions: core's
// connect_tcp() throws, which is right for setup but not for a refused connection
// in the middle of a run, where it is one more counted error.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <cstdint>
#include <string>

#include "run_stats.hpp"
#include "socket.hpp"
#include "unique_fd.hpp"

namespace pb::loadgen {

struct Endpoint {
    sockaddr_storage addr{};
    socklen_t len = 0;
    int family = 0;
};

// Resolves host:port once, before the run. Throws std::runtime_error.
Endpoint resolve(const std::string& host, uint16_t port);

enum class ConnectStatus { kConnected, kInProgress, kFailed };

// A non-blocking socket (TCP_NODELAY set as asked, best effort) and connect(). On kFailed,
// `error` holds errno and `fd` is closed. With `fastopen` (TCP_FASTOPEN_CONNECT,
// Linux) a client that holds the server's cookie gets kConnected at once and its
// first write sends the SYN with the data.
ConnectStatus start_connect(const Endpoint& to, bool nodelay, UniqueFd& fd, int& error,
                            bool fastopen = false);

// After a non-blocking connect reported writable: 0 when connected, else the errno.
int connect_result(int fd);

// Segment counters of a connected socket (Linux TCP_INFO; false elsewhere).
bool read_tcp_counters(int fd, TcpCounters& out);

// Socket options on the hot path (TCP_QUICKACK, TCP_CORK, SO_LINGER for a
// reset) use core's best-effort try_set_* (socket.hpp); their failure is
// ignored, since it can only mean the connection is already dead and the next
// read will say so.

// SO_TIMESTAMPNS: the kernel stamps every received segment (CLOCK_REALTIME).
// False where the option does not exist or was refused.
bool enable_rx_timestamps(int fd);

// read(2) through recvmsg(2): with SO_TIMESTAMPNS on, `stamp_ns` gets the kernel
// receive time of the data read (for TCP, of the last segment it took), in
// CLOCK_REALTIME nanoseconds; 0 when the read carried no timestamp.
ssize_t read_stamped(int fd, void* buf, size_t len, int64_t& stamp_ns);

// clock_gettime(CLOCK_REALTIME) in nanoseconds: the clock read_stamped() reports in.
int64_t realtime_ns();

}  // namespace pb::loadgen
