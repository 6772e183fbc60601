// Socket helpers (core/socket.hpp) on real loopback sockets: host:port
// parsing, accept results, best-effort and setup socket options, SO_REUSEPORT.
// The Poller and EventLoop contracts are in test_poller.cpp and
// test_event_loop.cpp.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <catch2/catch.hpp>

#include <thread>

#include "socket.hpp"

TEST_CASE("host:port strings split or are rejected", "[unit][socket]") {
    std::string host;
    uint16_t port = 0;
    pb::split_host_port("127.0.0.1:8080", host, port);
    CHECK(host == "127.0.0.1");
    CHECK(port == 8080);
    for (const char* bad : {"127.0.0.1", ":80", "h:", "h:0", "h:65536", "h:80x"}) {
        INFO(bad);
        CHECK_THROWS_AS(pb::split_host_port(bad, host, port), std::invalid_argument);
    }
}

TEST_CASE("accept classifies an empty queue as retry", "[unit][socket]") {
    auto listener = pb::listen_tcp({});
    REQUIRE(pb::local_port(listener.get()) != 0);
    auto r = pb::accept_connection(listener.get());
    CHECK(r.status == pb::AcceptStatus::kRetry);
    auto client = pb::connect_tcp("127.0.0.1", pb::local_port(listener.get()));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    r = pb::accept_connection(listener.get());
    CHECK(r.status == pb::AcceptStatus::kOk);
    CHECK(r.fd.valid());
}

TEST_CASE("best-effort socket options return false and keep errno, never throw", "[unit][socket]") {
    auto listener = pb::listen_tcp({});
    auto client = pb::connect_tcp("127.0.0.1", pb::local_port(listener.get()));
    int fd = client.get();
    CHECK(pb::try_set_nodelay(fd, true));
    int value = 0;
    socklen_t len = sizeof value;
    REQUIRE(::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &value, &len) == 0);
    CHECK(value != 0);
    CHECK(pb::try_set_nodelay(fd, false));
    CHECK(pb::try_set_cork(fd, true));
    CHECK(pb::try_set_cork(fd, false));
    CHECK(pb::try_set_quickack(fd, true));
    CHECK(pb::try_set_linger_rst(fd));

    // Not a socket, and no descriptor at all: false with setsockopt's errno.
    int pipe_fds[2];
    REQUIRE(::pipe(pipe_fds) == 0);
    errno = 0;
    CHECK_FALSE(pb::try_set_nodelay(pipe_fds[0], true));
    CHECK(errno == ENOTSOCK);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    errno = 0;
    CHECK_FALSE(pb::try_set_cork(-1, true));
    CHECK(errno == EBADF);
    CHECK_FALSE(pb::try_set_linger_rst(-1));

    // The setup flavour throws and names the call.
    try {
        pb::set_nodelay(-1, true);
        FAIL("set_nodelay(-1) should have thrown");
    } catch (const std::system_error& e) {
        CHECK(std::string(e.what()).find("setsockopt(TCP_NODELAY)") != std::string::npos);
    }
}

TEST_CASE("two SO_REUSEPORT listeners share one port", "[unit][socket]") {
    auto a = pb::listen_tcp({.reuseport = true});
    uint16_t port = pb::local_port(a.get());
    auto b = pb::listen_tcp({.port = port, .reuseport = true});
    CHECK(pb::local_port(b.get()) == port);
    // Without SO_REUSEPORT the second bind fails and names the call.
    try {
        pb::listen_tcp({.port = port});
        FAIL("bind should have failed");
    } catch (const std::system_error& e) {
        CHECK(std::string(e.what()).find("bind") != std::string::npos);
    }
}

TEST_CASE("a listener's TCP_FASTOPEN queue is the one asked for, none by default",
          "[unit][socket]") {
    auto queue = [](int fd) {
        int qlen = -1;
        socklen_t len = sizeof qlen;
        REQUIRE(::getsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN, &qlen, &len) == 0);
        return qlen;
    };
    CHECK(queue(pb::listen_tcp({}).get()) == 0);
    CHECK(queue(pb::listen_tcp({.fastopen = 16}).get()) == 16);
}
