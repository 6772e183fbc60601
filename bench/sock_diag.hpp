// A server's sockets seen from outside the server, through the kernel's
// sock_diag netlink interface (what `ss` uses): the segment counters and queues
// of its connections (the server side of the Nagle experiments) and the depth
// of its listeners' accept queues, without the server reporting anything.
// Linux only; on other systems (or without permission) the results are empty.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

namespace pb::bench {

struct SocketSegments {
    uint64_t segs_out = 0;
    uint64_t segs_in = 0;
    uint32_t unread = 0;  // bytes received, not yet read by the server (Recv-Q)
    uint32_t unsent = 0;  // bytes written by the server, not yet sent (tcpi_notsent_bytes)
};

// Established IPv4 TCP sockets whose local port is `port` (the server's side of
// every connection to it), keyed by socket cookie so two readings can be paired.
std::map<uint64_t, SocketSegments> server_socket_segments(uint16_t port);

// A listening socket on `port` (several under SO_REUSEPORT): `depth` connections
// completed by the kernel and not yet accepted (what `ss -lnt` shows as Recv-Q),
// out of `backlog` (Send-Q there).
struct ListenQueue {
    uint64_t cookie = 0;
    uint32_t depth = 0;
    uint32_t backlog = 0;
};
std::vector<ListenQueue> listen_queues(uint16_t port);

// Segments sent and received between two readings, over the sockets present in both.
SocketSegments segments_between(const std::map<uint64_t, SocketSegments>& begin,
                                const std::map<uint64_t, SocketSegments>& end);

}  // namespace pb::bench
