#include "socket.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <stdexcept>

namespace pb {
namespace {

sockaddr_in make_addr(const std::string& host, uint16_t port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    std::string h = host == "localhost" ? "127.0.0.1" : host;
    if (::inet_pton(AF_INET, h.c_str(), &addr.sin_addr) != 1)
        throw std::invalid_argument("not an IPv4 address: " + host);
    return addr;
}

bool try_set_int_option(int fd, int level, int name, int value) noexcept {
    return ::setsockopt(fd, level, name, &value, sizeof value) == 0;
}

void set_int_option(int fd, int level, int name, int value, const char* call) {
    if (!try_set_int_option(fd, level, name, value)) throw_errno(call);
}

}  // namespace

UniqueFd listen_tcp(const ListenConfig& config) {
    sockaddr_in addr = make_addr(config.host, config.port);
    int type = SOCK_STREAM | SOCK_CLOEXEC | (config.nonblocking ? SOCK_NONBLOCK : 0);
    UniqueFd fd(check_syscall(::socket(AF_INET, type, 0), "socket"));
    set_int_option(fd.get(), SOL_SOCKET, SO_REUSEADDR, 1, "setsockopt(SO_REUSEADDR)");
    if (config.reuseport)
        set_int_option(fd.get(), SOL_SOCKET, SO_REUSEPORT, 1, "setsockopt(SO_REUSEPORT)");
    check_syscall(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), "bind");
#ifdef TCP_FASTOPEN
    if (config.fastopen > 0)
        set_int_option(fd.get(), IPPROTO_TCP, TCP_FASTOPEN, config.fastopen,
                       "setsockopt(TCP_FASTOPEN)");
#endif
    check_syscall(::listen(fd.get(), config.backlog), "listen");
    return fd;
}

uint16_t local_port(int fd) {
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    check_syscall(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), "getsockname");
    return ntohs(addr.sin_port);
}

AcceptResult accept_connection(int listen_fd, bool nonblocking) {
    int flags = SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0);
    for (;;) {
#ifdef __APPLE__
        int fd = ::accept(listen_fd, nullptr, nullptr);
        if (fd >= 0) {
            ::fcntl(fd, F_SETFD, FD_CLOEXEC);
            if (nonblocking) set_nonblocking(fd, true);
        }
#else
        int fd = ::accept4(listen_fd, nullptr, nullptr, flags);
#endif
        if (fd >= 0) return {AcceptStatus::kOk, UniqueFd(fd), 0};
        int err = errno;
        switch (err) {
            case EINTR:
                continue;  // EINTR is handled here, once, not in every caller
            case EAGAIN:
#if EAGAIN != EWOULDBLOCK
            case EWOULDBLOCK:
#endif
                return {AcceptStatus::kRetry, UniqueFd(), err};
            // The connection died between SYN and accept, or Linux passed up a
            // pending network error on the new socket: skip it, take the next.
            case ECONNABORTED:
            case EPROTO:
            case EPERM:
#ifdef __linux__
            case ENETDOWN:
            case ENOPROTOOPT:
            case EHOSTDOWN:
            case ENONET:
            case EHOSTUNREACH:
            case EOPNOTSUPP:
            case ENETUNREACH:
#endif
                return {AcceptStatus::kIgnore, UniqueFd(), err};
            case EMFILE:
            case ENFILE:
            case ENOBUFS:
            case ENOMEM:
                return {AcceptStatus::kFdLimit, UniqueFd(), err};
            case EINVAL:
            case EBADF:
                return {AcceptStatus::kShutdown, UniqueFd(), err};
            default:
                return {AcceptStatus::kFatal, UniqueFd(), err};
        }
    }
}

UniqueFd connect_tcp(const std::string& host, uint16_t port, bool nonblocking) {
    sockaddr_in addr = make_addr(host, port);
    int type = SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0);
    UniqueFd fd(check_syscall(::socket(AF_INET, type, 0), "socket"));
    for (;;) {
        if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) break;
        if (errno == EINTR) continue;
        if (errno == EINPROGRESS && nonblocking) break;
        throw_errno("connect");
    }
    return fd;
}

void set_nonblocking(int fd, bool on) {
    int flags = check_syscall(::fcntl(fd, F_GETFL), "fcntl(F_GETFL)");
    flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
    check_syscall(::fcntl(fd, F_SETFL, flags), "fcntl(F_SETFL)");
}

void set_nodelay(int fd, bool on) {
    if (!try_set_nodelay(fd, on)) throw_errno("setsockopt(TCP_NODELAY)");
}

void set_linger_rst(int fd) {
    if (!try_set_linger_rst(fd)) throw_errno("setsockopt(SO_LINGER)");
}

bool try_set_nodelay(int fd, bool on) noexcept {
    return try_set_int_option(fd, IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0);
}

bool try_set_cork(int fd, bool on) noexcept {
#ifdef TCP_CORK
    return try_set_int_option(fd, IPPROTO_TCP, TCP_CORK, on ? 1 : 0);
#elif defined(TCP_NOPUSH)
    return try_set_int_option(fd, IPPROTO_TCP, TCP_NOPUSH, on ? 1 : 0);
#else
    (void)fd;
    (void)on;
    return true;
#endif
}

bool try_set_quickack(int fd, bool on) noexcept {
#ifdef TCP_QUICKACK
    return try_set_int_option(fd, IPPROTO_TCP, TCP_QUICKACK, on ? 1 : 0);
#else
    (void)fd;
    (void)on;
    return true;
#endif
}

bool try_set_linger_rst(int fd) noexcept {
    linger lg{1, 0};
    return ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0;
}

void split_host_port(const std::string& text, std::string& host, uint16_t& port) {
    auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
        throw std::invalid_argument("expected HOST:PORT, got '" + text + "'");
    host = text.substr(0, colon);
    unsigned long value = 0;
    try {
        size_t used = 0;
        value = std::stoul(text.substr(colon + 1), &used);
        if (used != text.size() - colon - 1) throw std::invalid_argument("");
    } catch (const std::exception&) {
        throw std::invalid_argument("bad port in '" + text + "'");
    }
    if (value == 0 || value > 65535)
        throw std::invalid_argument("port out of range in '" + text + "'");
    port = static_cast<uint16_t>(value);
}

}  // namespace pb
