#include "client_socket.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <string>

#ifdef __linux__
// linux/tcp.h has the full struct tcp_info (segs_in/segs_out); glibc's
// netinet/tcp.h stops short of them. The two headers clash, so only this file
// includes the kernel one.
#include <linux/tcp.h>
#else
#include <netinet/tcp.h>
#endif

namespace pb::loadgen {

Endpoint resolve(const std::string& host, uint16_t port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    std::string service = std::to_string(port);
    int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
    if (rc != 0) throw std::runtime_error("cannot resolve " + host + ": " + ::gai_strerror(rc));
    Endpoint ep;
    std::memcpy(&ep.addr, found->ai_addr, found->ai_addrlen);
    ep.len = found->ai_addrlen;
    ep.family = found->ai_family;
    ::freeaddrinfo(found);
    return ep;
}

ConnectStatus start_connect(const Endpoint& to, bool nodelay, UniqueFd& fd, int& error,
                            bool fastopen) {
    fd.reset(::socket(to.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) {
        error = errno;
        return ConnectStatus::kFailed;
    }
    try_set_nodelay(fd.get(), nodelay);  // best effort, like every option mid-run
#ifdef TCP_FASTOPEN_CONNECT
    if (fastopen) {
        // Best effort too: refused, the connection is an ordinary one, and the
        // kernel's TCPFastOpen* counters show that none rode in a SYN.
        int one = 1;
        ::setsockopt(fd.get(), IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one, sizeof one);
    }
#else
    (void)fastopen;
#endif
    for (;;) {
        if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&to.addr), to.len) == 0)
            return ConnectStatus::kConnected;
        if (errno == EINTR) continue;
        if (errno == EINPROGRESS) return ConnectStatus::kInProgress;
        // Loopback refuses (ECONNREFUSED) or runs out of ports (EADDRNOTAVAIL)
        // right inside connect().
        error = errno;
        fd.reset();
        return ConnectStatus::kFailed;
    }
}

int connect_result(int fd) {
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
    return err;
}

bool read_tcp_counters(int fd, TcpCounters& out) {
#ifdef __linux__
    tcp_info info{};
    socklen_t len = sizeof info;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return false;
    out.segs_out = info.tcpi_segs_out;
    out.segs_in = info.tcpi_segs_in;
    out.retransmits = info.tcpi_total_retrans;
    out.connections = 1;
    return true;
#else
    (void)fd;
    (void)out;
    return false;
#endif
}

bool enable_rx_timestamps(int fd) {
#ifdef SO_TIMESTAMPNS
    int one = 1;
    return ::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) == 0;
#else
    (void)fd;
    return false;
#endif
}

ssize_t read_stamped(int fd, void* buf, size_t len, int64_t& stamp_ns) {
    stamp_ns = 0;
#ifdef SO_TIMESTAMPNS
    iovec iov{buf, len};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(fd, &msg, 0);
    if (n <= 0) return n;
    for (cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
            timespec ts{};
            std::memcpy(&ts, CMSG_DATA(cm), sizeof ts);
            stamp_ns = int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
        }
    }
    return n;
#else
    return ::read(fd, buf, len);
#endif
}

int64_t realtime_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace pb::loadgen
