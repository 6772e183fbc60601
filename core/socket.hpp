// Socket helpers shared by every server, the load generator and the tests.
// Setup failures throw std::system_error naming the syscall; the per-connection
// calls (accept, read, write) return a classified status instead.
#pragma once

#include <cstdint>
#include <string>

#include "unique_fd.hpp"

namespace pb {

struct ListenConfig {
    std::string host = "127.0.0.1";
    uint16_t port = 0;  // 0: the kernel picks an ephemeral port
    int backlog = 4096;
    bool reuseport = false;  // SO_REUSEPORT: several listeners share the port
    bool nonblocking = true;
    // TCP_FASTOPEN: accept data carried by the SYN (a client holding this
    // server's cookie), with at most this many such connections not yet
    // accepted; 0 leaves it off. The net.ipv4.tcp_fastopen sysctl must allow it.
    int fastopen = 0;
};

// socket + SO_REUSEADDR (+ SO_REUSEPORT) + bind + listen. Throws on failure.
UniqueFd listen_tcp(const ListenConfig& config);

// The port a bound socket ended up on.
uint16_t local_port(int fd);

// What accept4() said, classified so a loop knows what to do next.
enum class AcceptStatus {
    kOk,        // fd is a new connection (non-blocking, close-on-exec)
    kRetry,     // EAGAIN/EWOULDBLOCK/EINTR: nothing more to take now
    kIgnore,    // ECONNABORTED, EPROTO, ...: that one connection died; take the next
    kFdLimit,   // EMFILE/ENFILE/ENOBUFS/ENOMEM: out of descriptors or memory
    kShutdown,  // EINVAL/EBADF: the listener was shut down or closed
    kFatal,     // anything else; `error` holds errno
};

struct AcceptResult {
    AcceptStatus status;
    UniqueFd fd;
    int error = 0;
};

// accept4 on `listen_fd`. `nonblocking` chooses SOCK_NONBLOCK for the new fd.
AcceptResult accept_connection(int listen_fd, bool nonblocking = true);

// Blocking or non-blocking connect to host:port. A non-blocking connect may
// return with the connection still in progress (EINPROGRESS is not an error).
UniqueFd connect_tcp(const std::string& host, uint16_t port, bool nonblocking = false);

// Setup: these throw std::system_error naming the call.
void set_nonblocking(int fd, bool on);
void set_nodelay(int fd, bool on);  // TCP_NODELAY: disable Nagle's algorithm
void set_linger_rst(int fd);        // SO_LINGER {1, 0}: close() sends RST

// Best-effort options for a connection in use (accepted by a server, or a
// client's mid-run): false on failure with errno as setsockopt left it, never
// a throw. On a live connection a failure means the peer is already gone
// (macOS and the BSDs return EINVAL on a socket the peer has reset): one
// connection's problem, for the caller to count, never a reason to stop.
// Where an option does not exist (TCP_QUICKACK off Linux) the call does
// nothing and returns true.
bool try_set_nodelay(int fd, bool on) noexcept;   // TCP_NODELAY
bool try_set_cork(int fd, bool on) noexcept;      // TCP_CORK (Linux) / TCP_NOPUSH (BSD)
bool try_set_quickack(int fd, bool on) noexcept;  // TCP_QUICKACK (Linux only)
bool try_set_linger_rst(int fd) noexcept;         // SO_LINGER {1, 0}

// "host:port" → parts. Throws std::invalid_argument on a malformed string.
void split_host_port(const std::string& text, std::string& host, uint16_t& port);

}  // namespace pb
