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

std::map<uint64_t, SocketSegments> server_socket_segments(uint16_t port) {
    std::map<uint64_t, SocketSegments> out;
    UniqueFd fd(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
    if (!fd) return out;

    struct {
        nlmsghdr header;
        inet_diag_req_v2 request;
    } msg{};
    msg.header.nlmsg_len = sizeof msg;
    msg.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    msg.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    msg.request.sdiag_family = AF_INET;
    msg.request.sdiag_protocol = IPPROTO_TCP;
    // TCP_ESTABLISHED is 1 in the kernel's state enum (include/net/tcp_states.h);
    // glibc's <netinet/tcp.h>, which names it, clashes with <linux/tcp.h>.
    msg.request.idiag_states = 1u << 1;
    msg.request.idiag_ext = 1u << (INET_DIAG_INFO - 1);
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(fd.get(), &msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&kernel),
                 sizeof kernel) < 0)
        return out;

    // The dump filters nothing by port (that needs a bytecode filter); a server
    // under test has at most a few thousand sockets, so filtering here is cheap.
    std::vector<char> buf(1 << 16);
    for (;;) {
        ssize_t n = ::recv(fd.get(), buf.data(), buf.size(), 0);
        if (n <= 0) return out;
        int left = static_cast<int>(n);
        for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, left);
             h = NLMSG_NEXT(h, left)) {
            if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) return out;
            auto* r = static_cast<inet_diag_msg*>(NLMSG_DATA(h));
            if (ntohs(r->id.idiag_sport) != port) continue;
            int attr_len = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof *r));
            for (auto* a = reinterpret_cast<rtattr*>(r + 1); RTA_OK(a, attr_len);
                 a = RTA_NEXT(a, attr_len)) {
                if (a->rta_type != INET_DIAG_INFO) continue;
                // Older kernels send a shorter tcp_info; segment counts need 4.2+.
                tcp_info info{};
                size_t got = RTA_PAYLOAD(a);
                std::memcpy(&info, RTA_DATA(a), std::min(got, sizeof info));
                if (got < offsetof(tcp_info, tcpi_segs_in) + sizeof info.tcpi_segs_in) continue;
                uint64_t cookie =
                    (static_cast<uint64_t>(r->id.idiag_cookie[1]) << 32) | r->id.idiag_cookie[0];
                out[cookie] = {info.tcpi_segs_out, info.tcpi_segs_in};
            }
        }
    }
}

#else

std::map<uint64_t, SocketSegments> server_socket_segments(uint16_t) {
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
