// The Poller contract (core/poller.hpp), the same for the epoll and kqueue
// backends, on a UNIX socketpair: add, modify, remove and wait, neutral
// {fd, mask} events, read and write readiness merged per fd, a peer's close
// reported as kHangup, level-triggered readiness, and the wait timeout.
#include <unistd.h>

#include <catch2/catch.hpp>

#include <array>
#include <chrono>
#include <set>
#include <string>

#include "poller.hpp"
#include "socket_pair.hpp"

TEST_CASE("Poller reports readable and writable as neutral masks", "[unit][poller]") {
    auto [a, b] = pbtest::socket_pair();
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

TEST_CASE("Poller reports one event per fd with read and write readiness merged",
          "[unit][poller]") {
    auto [a, b] = pbtest::socket_pair();
    pb::Poller poller;
    poller.add(a.get(), pb::kReadable | pb::kWritable);
    REQUIRE(::write(b.get(), "x", 1) == 1);
    std::array<pb::PollEvent, 8> events;
    // kqueue has a filter for each direction: both must come back as one event.
    REQUIRE(poller.wait(events, 1000) == 1);
    CHECK(events[0].fd == a.get());
    CHECK((events[0].mask & pb::kReadable) != 0);
    CHECK((events[0].mask & pb::kWritable) != 0);
    CHECK((events[0].mask & pb::kHangup) == 0);
}

TEST_CASE("Poller readiness is level-triggered: unread bytes are reported again",
          "[unit][poller]") {
    auto [a, b] = pbtest::socket_pair();
    pb::Poller poller;
    poller.add(a.get(), pb::kReadable);
    REQUIRE(::write(b.get(), "xy", 2) == 2);
    std::array<pb::PollEvent, 8> events;
    REQUIRE(poller.wait(events, 1000) == 1);
    REQUIRE(poller.wait(events, 0) == 1);  // nothing read yet
    char buf[2];
    REQUIRE(::read(a.get(), buf, 1) == 1);
    REQUIRE(poller.wait(events, 0) == 1);  // one byte left
    REQUIRE(::read(a.get(), buf, 1) == 1);
    CHECK(poller.wait(events, 0) == 0);  // drained
}

TEST_CASE("Poller reports every ready fd, at most as many as the caller has room for",
          "[unit][poller]") {
    auto [a1, b1] = pbtest::socket_pair();
    auto [a2, b2] = pbtest::socket_pair();
    pb::Poller poller;
    poller.add(a1.get(), pb::kReadable);
    poller.add(a2.get(), pb::kReadable);
    REQUIRE(::write(b1.get(), "x", 1) == 1);
    REQUIRE(::write(b2.get(), "x", 1) == 1);
    std::array<pb::PollEvent, 8> events;
    REQUIRE(poller.wait(events, 1000) == 2);
    CHECK(std::set<int>{events[0].fd, events[1].fd} == std::set<int>{a1.get(), a2.get()});
    std::array<pb::PollEvent, 1> one;
    CHECK(poller.wait(one, 1000) == 1);
}

TEST_CASE("Poller reports a peer's close as readable with kHangup, never requested",
          "[unit][poller]") {
    auto [a, b] = pbtest::socket_pair();
    pb::Poller poller;
    poller.add(a.get(), pb::kReadable);
    b.reset();
    std::array<pb::PollEvent, 8> events;
    REQUIRE(poller.wait(events, 1000) == 1);
    CHECK(events[0].fd == a.get());
    // Readable too, so the read path meets the EOF and handles it in one place.
    CHECK((events[0].mask & pb::kReadable) != 0);
    CHECK((events[0].mask & pb::kHangup) != 0);
}

TEST_CASE("Poller wait returns no events after its timeout when nothing is ready",
          "[unit][poller]") {
    auto [a, b] = pbtest::socket_pair();
    pb::Poller poller;
    poller.add(a.get(), pb::kReadable);
    std::array<pb::PollEvent, 8> events;
    auto start = std::chrono::steady_clock::now();
    CHECK(poller.wait(events, 50) == 0);
    CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(45));
    CHECK((std::string(pb::Poller::name()) == "epoll" ||
           std::string(pb::Poller::name()) == "kqueue"));
}
