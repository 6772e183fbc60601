// The EventLoop contract (core/event_loop.hpp): timers in order and never
// early, post() and stop() from another thread waking a loop that waits with
// nothing to do, fd handlers called with the ready mask, update() and
// unwatch() taking effect at once, also from inside a handler.
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <thread>
#include <vector>

#include "event_loop.hpp"
#include "socket_pair.hpp"

using namespace std::chrono_literals;

namespace {

// Runs `loop` with a watchdog: a loop that is never woken still returns after
// `limit`, and the test fails on what did not happen instead of hanging.
pb::Clock::duration run_bounded(pb::EventLoop& loop, pb::Clock::duration limit = 5s) {
    auto watchdog = loop.run_after(limit, [&] { loop.stop(); });
    auto start = pb::Clock::now();
    loop.run();
    loop.cancel(watchdog);
    return pb::Clock::now() - start;
}

}  // namespace

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

TEST_CASE("EventLoop timers never fire early, and a periodic one may cancel itself",
          "[unit][loop]") {
    pb::EventLoop loop;
    auto start = pb::Clock::now();
    pb::Clock::duration fired{};
    loop.run_after(25ms, [&] { fired = pb::Clock::now() - start; });
    int ticks = 0;
    pb::EventLoop::TimerId every = 0;
    every = loop.run_every(10ms, [&] {
        if (++ticks == 3) loop.cancel(every);
    });
    loop.run_after(100ms, [&] { loop.stop(); });
    run_bounded(loop);
    CHECK(fired >= 25ms);
    CHECK(ticks == 3);  // not one more after it cancelled itself
}

TEST_CASE("EventLoop post() from another thread wakes a loop waiting with nothing to do",
          "[unit][loop]") {
    pb::EventLoop loop;
    bool ran_in_loop = false;
    std::thread poster([&] {
        std::this_thread::sleep_for(50ms);
        loop.post([&] {
            ran_in_loop = true;
            loop.stop();
        });
    });
    // The only timer is the 5 s watchdog: without the wake-up, run() sleeps on.
    auto took = run_bounded(loop);
    poster.join();
    CHECK(ran_in_loop);
    CHECK(took < 1s);
}

TEST_CASE("EventLoop stop() from another thread ends run()", "[unit][loop]") {
    pb::EventLoop loop;
    std::thread stopper([&] {
        std::this_thread::sleep_for(50ms);
        loop.stop();
    });
    auto took = run_bounded(loop);
    stopper.join();
    CHECK(took < 1s);
    // run() can be entered again afterwards.
    bool ran = false;
    loop.post([&] {
        ran = true;
        loop.stop();
    });
    CHECK(run_bounded(loop) < 1s);
    CHECK(ran);
}

TEST_CASE("EventLoop handlers get the ready mask, update() and unwatch() act at once",
          "[unit][loop]") {
    auto [a, b] = pbtest::socket_pair();
    pb::EventLoop loop;
    std::vector<uint32_t> seen;
    loop.watch(a.get(), pb::kReadable, [&](uint32_t mask) {
        seen.push_back(mask);
        if (seen.size() == 1) {
            char c;
            REQUIRE(::read(a.get(), &c, 1) == 1);
            loop.update(a.get(), pb::kWritable);
        } else {
            loop.unwatch(a.get());  // from inside its own handler
            loop.stop();
        }
    });
    CHECK(loop.interest(a.get()) == pb::kReadable);
    REQUIRE(::write(b.get(), "x", 1) == 1);
    run_bounded(loop);
    REQUIRE(seen.size() == 2);
    CHECK((seen[0] & pb::kReadable) != 0);
    CHECK((seen[1] & pb::kWritable) != 0);
    CHECK((seen[1] & pb::kReadable) == 0);
    CHECK(loop.interest(a.get()) == 0);

    // Unwatched: readable again, and the handler is not called.
    REQUIRE(::write(b.get(), "y", 1) == 1);
    loop.run_after(50ms, [&] { loop.stop(); });
    run_bounded(loop);
    CHECK(seen.size() == 2);
}

TEST_CASE("EventLoop skips a handler unwatched earlier in the same batch", "[unit][loop]") {
    auto [a1, b1] = pbtest::socket_pair();
    auto [a2, b2] = pbtest::socket_pair();
    pb::EventLoop loop;
    int calls = 0;
    // Whichever runs first unwatches both: the other must not run, though its
    // fd was in the same batch of ready events.
    auto first_wins = [&](uint32_t) {
        ++calls;
        loop.unwatch(a1.get());
        loop.unwatch(a2.get());
        loop.run_after(50ms, [&] { loop.stop(); });
    };
    loop.watch(a1.get(), pb::kReadable, first_wins);
    loop.watch(a2.get(), pb::kReadable, first_wins);
    REQUIRE(::write(b1.get(), "x", 1) == 1);
    REQUIRE(::write(b2.get(), "x", 1) == 1);
    run_bounded(loop);
    CHECK(calls == 1);
}
