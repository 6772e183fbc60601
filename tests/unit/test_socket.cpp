// Socket helpers and the Poller contract, on real loopback sockets.
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <thread>

#include "event_loop.hpp"
#include "poller.hpp"
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

TEST_CASE("Poller reports readable and writable as neutral masks", "[unit][poller]") {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    pb::UniqueFd a(sv[0]), b(sv[1]);
    pb::Poller poller;
    poller.add(a.get(), pb::kReadable);
    std::array<pb::PollEvent, 8> events;
    CHECK(poller.wait(events, 0) == 0);
    REQUIRE(::write(b.get(), "x", 1) == 1);
    REQUIRE(poller.wait(events, 1000) == 1);
    CHECK(events[0].fd == a.get());
    CHECK((events[0].mask & pb::kReadable) != 0);
    poller.modify(a.get(), pb::kReadable, pb::kWritable);
    REQUIRE(poller.wait(events, 1000) == 1);
    CHECK(events[0].mask == pb::kWritable);
    poller.remove(a.get(), pb::kWritable);
    CHECK(poller.wait(events, 0) == 0);
}

TEST_CASE("EventLoop runs timers in order and post() from another thread", "[unit][loop]") {
    pb::EventLoop loop;
    std::vector<int> order;
    loop.run_after(std::chrono::milliseconds(30), [&] { order.push_back(2); });
    loop.run_after(std::chrono::milliseconds(10), [&] { order.push_back(1); });
    auto cancelled = loop.run_after(std::chrono::milliseconds(20), [&] { order.push_back(99); });
    loop.cancel(cancelled);
    int ticks = 0;
    auto every = loop.run_every(std::chrono::milliseconds(5), [&] { ++ticks; });
    std::thread poster([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        loop.post([&] {
            order.push_back(3);
            loop.cancel(every);
            loop.stop();
        });
    });
    loop.run();
    poster.join();
    CHECK(order == std::vector<int>{1, 2, 3});
    CHECK(ticks >= 3);
}
