// Requests cut at every byte, against every pattern server in both protocols:
// the wire-level twin of the parsers' every-split unit tests (every_split.hpp).
// The parsers are tested on buffers; this checks the servers' own read paths,
// which differ (a Reactor's scratch buffer, server-uring's ring-provided
// buffers, the blocking servers' per-connection buffer), carry a partial
// request over from one read to the next. Each cut sends the two halves as two
// segments (TCP_NODELAY) with a pause between, so the server reads them apart.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>

#include <string>
#include <thread>

#include "client.hpp"
#include "server_process.hpp"
#include "servers.hpp"

using namespace pbtest;

namespace {

constexpr auto kGap = std::chrono::microseconds(1500);

pb::UniqueFd connect_nodelay(uint16_t port) {
    auto fd = connect_local(port);
    int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

void send_cut(int fd, const std::string& request, size_t cut) {
    send_all(fd, request.substr(0, cut));
    std::this_thread::sleep_for(kGap);
    send_all(fd, request.substr(cut));
}

}  // namespace

TEST_CASE("a frame request cut at every byte is answered", "[conformance][split][threaded]") {
    auto binary = GENERATE(from_range(all_servers()));
    ServerProcess server(binary, {"--protocol", "frame"});
    auto fd = connect_nodelay(server.port());
    // A header and a short body: every cut lands in the header or the body.
    const std::string request = frame_request({.id = 1, .body_len = 9, .reply_len = 5});
    for (size_t cut = 1; cut < request.size(); ++cut) {
        INFO(binary << " cut after byte " << cut << " of " << request.size());
        auto id = static_cast<uint64_t>(100 + cut);
        std::string r = frame_request({.id = id, .body_len = 9, .reply_len = 5});
        send_cut(fd.get(), r, cut);
        auto problem = read_verified_reply(fd.get(), id, 5);
        INFO(problem.value_or(""));
        REQUIRE_FALSE(problem.has_value());
    }
    stop_cleanly(server);
}

TEST_CASE("an HTTP request cut at every byte is answered", "[conformance][split][threaded]") {
    auto binary = GENERATE(from_range(all_servers()));
    ServerProcess server(binary, {"--protocol", "http"});
    auto fd = connect_nodelay(server.port());
    // A body too: the cut walks the request line, the headers, the blank line
    // and the body.
    const std::string request =
        "POST /?size=7 HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nabcd";
    for (size_t cut = 1; cut < request.size(); ++cut) {
        INFO(binary << " cut after byte " << cut << " of " << request.size());
        send_cut(fd.get(), request, cut);
        auto resp = read_http_response(fd.get());
        REQUIRE(resp.complete);
        REQUIRE(resp.status == 200);
        REQUIRE(resp.body.size() == 7);
    }
    stop_cleanly(server);
}
