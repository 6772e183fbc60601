// TCP segment counters of a server's sockets, seen from outside the server: the
// kernel's sock_diag netlink interface (what `ss -ti` uses) returns each
// socket's tcp_info, so the harness measures the server side of the Nagle
// experiments without the server having to report anything. Linux only; on
// other systems (or without permission) the result is empty.
#pragma once

#include <cstdint>
#include <map>

namespace pb::bench {

struct SocketSegments {
    uint64_t segs_out = 0;
    uint64_t segs_in = 0;
};

// Established IPv4 TCP sockets whose local port is `port` (the server's side of
// every connection to it), keyed by socket cookie so two readings can be paired.
std::map<uint64_t, SocketSegments> server_socket_segments(uint16_t port);

// Segments sent and received between two readings, over the sockets present in both.
SocketSegments segments_between(const std::map<uint64_t, SocketSegments>& begin,
                                const std::map<uint64_t, SocketSegments>& end);

}  // namespace pb::bench
