#include "sock_diag.hpp"

#ifdef __linux__
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <vector>

#include "unique_fd.hpp"
#endif

namespace pb::bench {

#ifdef __linux__

namespace {

// Kernel socket states (include/net/tcp_states.h); glibc's <netinet/tcp.h>,
// which names them, clashes with <linux/tcp.h>.
constexpr uint32_t kEstablished = 1;
constexpr uint32_t kListen = 10;

uint64_t cookie_of(const inet_diag_msg& r) {
    return (static_cast<uint64_t>(r.id.idiag_cookie[1]) << 32) | r.id.idiag_cookie[0];
}

// Calls on_socket(msg, info) for every IPv4 TCP socket in `state` whose local
// port is `port`; `info` is the socket's tcp_info (zeroes past what an older
// kernel sent) or null when the kernel sent none.
template <typename OnSocket>
void dump_tcp(uint16_t port, uint32_t state, OnSocket on_socket) {
    UniqueFd fd(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
    if (!fd) return;

    struct {
        nlmsghdr header;
        inet_diag_req_v2 request;
    } msg{};
    msg.header.nlmsg_len = sizeof msg;
    msg.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    msg.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    msg.request.sdiag_family = AF_INET;
    msg.request.sdiag_protocol = IPPROTO_TCP;
    msg.request.idiag_states = 1u << state;
    msg.request.idiag_ext = 1u << (INET_DIAG_INFO - 1);
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(fd.get(), &msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&kernel),
                 sizeof kernel) < 0)
        return;

    // The dump filters nothing by port (that needs a bytecode filter); a server
    // under test has at most a few thousand sockets, so filtering here is cheap.
    std::vector<char> buf(1 << 16);
    for (;;) {
        ssize_t n = ::recv(fd.get(), buf.data(), buf.size(), 0);
        if (n <= 0) return;
        int left = static_cast<int>(n);
        for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, left);
             h = NLMSG_NEXT(h, left)) {
            if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) return;
            auto* r = static_cast<inet_diag_msg*>(NLMSG_DATA(h));
            if (ntohs(r->id.idiag_sport) != port) continue;
            tcp_info info{};
            bool have_info = false;
            int attr_len = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof *r));
            for (auto* a = reinterpret_cast<rtattr*>(r + 1); RTA_OK(a, attr_len);
                 a = RTA_NEXT(a, attr_len)) {
                if (a->rta_type != INET_DIAG_INFO) continue;
                // Older kernels send a shorter tcp_info; segment counts need 4.2+.
                size_t got = RTA_PAYLOAD(a);
                std::memcpy(&info, RTA_DATA(a), std::min(got, sizeof info));
                have_info = got >= offsetof(tcp_info, tcpi_segs_in) + sizeof info.tcpi_segs_in;
            }
            on_socket(*r, have_info ? &info : nullptr);
        }
    }
}

}  // namespace

std::map<uint64_t, SocketSegments> server_socket_segments(uint16_t port) {
    std::map<uint64_t, SocketSegments> out;
    dump_tcp(port, kEstablished, [&](const inet_diag_msg& r, const tcp_info* info) {
        if (!info) return;
        out[cookie_of(r)] = {info->tcpi_segs_out, info->tcpi_segs_in, r.idiag_rqueue,
                             info->tcpi_notsent_bytes};
    });
    return out;
}

std::vector<ListenQueue> listen_queues(uint16_t port) {
    std::vector<ListenQueue> out;
    // For a listener the kernel reports the accept queue's length as rqueue and
    // its limit as wqueue.
    dump_tcp(port, kListen, [&](const inet_diag_msg& r, const tcp_info*) {
        out.push_back({cookie_of(r), r.idiag_rqueue, r.idiag_wqueue});
    });
    return out;
}

#else

std::map<uint64_t, SocketSegments> server_socket_segments(uint16_t) {
    return {};
}

std::vector<ListenQueue> listen_queues(uint16_t) {
    return {};
}

#endif

SocketSegments segments_between(const std::map<uint64_t, SocketSegments>& begin,
                                const std::map<uint64_t, SocketSegments>& end) {
    SocketSegments d;
    for (const auto& [cookie, e] : end) {
        auto b = begin.find(cookie);
        if (b == begin.end()) continue;
        d.segs_out += e.segs_out - b->second.segs_out;
        d.segs_in += e.segs_in - b->second.segs_in;
    }
    return d;
}

}  // namespace pb::bench
