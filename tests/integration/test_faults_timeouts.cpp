// Fault tests of the per-connection deadlines, run against every pattern:
// slowloris clients against --header-timeout (one, and three hundred beside an
// honest client), idle keep-alive connections against --idle-timeout, and
// clients that never read against --output-high-water and --write-timeout.
// Each deadline must cut what it is for, at its time and not before, and
// spare everyone else.
#include <sys/socket.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "client.hpp"
#include "server_process.hpp"
#include "servers.hpp"
#include "test_faults_support.hpp"

using namespace pbtest;
using namespace pbtest::faults;

// 4. Slowloris, one client: a request that dribbles in a byte per 100 ms is cut
// at --header-timeout after its first byte. A request that arrives in pieces
// but within the deadline is served, and so is the next one on the same
// connection: the clock restarts per request, not per connection.
TEST_CASE("slowloris: the request deadline counts from the first byte", "[faults]") {
    const auto target = GENERATE(from_range(every_server_in_both_protocols()));
    bool http = target.http();
    INFO(target);
    constexpr auto kDeadline = 600ms;
    TempPath stats_path;
    ServerProcess server(target.binary, target.args({"--header-timeout", "600ms", "--stats-file",
                                                     stats_path.str()}));
    FaultRun run("slowloris_one", server);
    uint64_t lost = 0;

    auto prompt = connect_local(server.port());
    for (uint64_t r = 0; r < 2; ++r) {
        std::string request = request_for(http, 10 + r, 50);
        size_t piece = (request.size() + 3) / 4;
        for (size_t off = 0; off < request.size(); off += piece) {
            send_all(prompt.get(), request.substr(off, piece));
            if (off + piece < request.size()) std::this_thread::sleep_for(100ms);
        }
        CHECK(read_reply(http, prompt.get(), 10 + r, 50, lost));
    }

    auto slow = connect_local(server.port());
    std::string request = http ? "GET /" + std::string(100, 'a') + " HTTP/1.1\r\n\r\n"
                               : frame_request({.id = 12, .body_len = 40, .reply_len = 5});
    auto first_byte = Clock::now();
    bool closed = false;
    for (size_t i = 0; i < request.size() && !closed; ++i) {
        closed = ::send(slow.get(), &request[i], 1, MSG_NOSIGNAL) < 0;
        closed = closed || wait_closed(slow.get(), 100ms);
    }
    auto elapsed = Clock::now() - first_byte;
    INFO("closed after " << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()
                         << " ms");
    CHECK(closed);
    CHECK(elapsed >= kDeadline - 10ms);
    CHECK(elapsed < kDeadline + kSlow * 500ms);
    run.tried(3);
    run.lost(lost);
    CHECK(round_trip_any(http, server.port()));
    run.stop(server);
    auto stats = read_stats(stats_path.str());
    REQUIRE(stats.ok());
    CHECK(stats.total("header_timeout") == 1);
}

// 4. Slowloris, hundreds: 300 clients each dribble a request line a byte per
// 100 ms. An event-loop server reads a byte per client per tick and never
// waits on any of them; thread-per-conn gives each its own thread. Either way
// an honest client is served promptly, and every dribbler is cut at its deadline.
TEST_CASE("slowloris: 300 dribblers, an honest client is still served promptly", "[faults]") {
    raise_own_fd_limit();
    auto binary = GENERATE(from_range(all_servers()));
    INFO(binary);
    constexpr auto kDeadline = 2s;
    constexpr size_t kDribblers = 300;
    TempPath stats_path;
    ServerProcess server(binary, {"--threads", "2", "--protocol", "http", "--header-timeout", "2s",
                                  "--stats-file", stats_path.str()});
    size_t base = settled_fds(server, true);
    FaultRun run("slowloris_many", server);

    std::string line = "GET /" + std::string(500, 'a') + " HTTP/1.1\r\n\r\n";
    struct Dribbler {
        pb::UniqueFd fd;
        Clock::time_point first_byte;
        Clock::time_point closed_at;
        size_t sent = 0;
        bool closed = false;
    };
    std::vector<Dribbler> dribblers(kDribblers);
    for (auto& d : dribblers) d.fd = connect_local(server.port());
    run.tried(kDribblers);
    std::atomic<bool> stop{false};
    std::thread dribble([&] {
        auto until = Clock::now() + kDeadline + kSlow * 2s;
        size_t open = kDribblers;
        while (open > 0 && Clock::now() < until && !stop.load()) {
            for (auto& d : dribblers) {
                if (d.closed) continue;
                if (peek_peer(d.fd.get()) == Peer::kClosed ||
                    ::send(d.fd.get(), &line[d.sent % line.size()], 1,
                           MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
                    d.closed = true;
                    d.closed_at = Clock::now();
                    --open;
                    continue;
                }
                if (d.sent++ == 0) d.first_byte = Clock::now();
            }
            std::this_thread::sleep_for(100ms);
        }
    });

    // The honest client: a fresh connection and a GET every 50 ms meanwhile.
    std::this_thread::sleep_for(200ms);
    Clock::duration worst{};
    int served = 0;
    for (int i = 0; i < 20; ++i) {
        auto t0 = Clock::now();
        served += serves_http(server.port());
        worst = std::max(worst, Clock::now() - t0);
        std::this_thread::sleep_for(50ms);
    }
    auto worst_ms = std::chrono::duration_cast<std::chrono::milliseconds>(worst).count();
    INFO("honest client: worst " << worst_ms << " ms");
    CHECK(served == 20);
    CHECK(worst < kSlow * 200ms);
    record_figure("slowloris_many", binary, "honest_worst_ms", double(worst_ms));

    dribble.join();
    size_t cut = 0;
    Clock::duration earliest = 1h, latest{};
    for (const auto& d : dribblers) {
        if (!d.closed) continue;
        ++cut;
        earliest = std::min(earliest, d.closed_at - d.first_byte);
        latest = std::max(latest, d.closed_at - d.first_byte);
    }
    INFO("cut " << cut << " between "
                << std::chrono::duration_cast<std::chrono::milliseconds>(earliest).count()
                << " and " << std::chrono::duration_cast<std::chrono::milliseconds>(latest).count()
                << " ms after their first byte");
    CHECK(cut == kDribblers);
    CHECK(earliest >= kDeadline - 10ms);
    CHECK(latest < kDeadline + kSlow * 700ms);
    dribblers.clear();
    CHECK(wait_for_fds(server, base, 3s) == base);
    run.stop(server);
    auto stats = read_stats(stats_path.str());
    REQUIRE(stats.ok());
    CHECK(stats.total("header_timeout") == int64_t(kDribblers));
}

// 5. Idle keep-alive: connections with nothing in progress close after
// --idle-timeout, counted from their last activity; a connection that keeps
// asking stays open; the descriptors come back.
TEST_CASE("idle keep-alive: closed after --idle-timeout, busy ones kept, fds back to baseline",
          "[faults]") {
    const auto target = GENERATE(from_range(every_server_in_both_protocols()));
    bool http = target.http();
    INFO(target);
    constexpr auto kIdle = 300ms;
    TempPath stats_path;
    ServerProcess server(
        target.binary, target.args({"--idle-timeout", "300ms", "--stats-file", stats_path.str()}));
    size_t base = settled_fds(server, http);
    FaultRun run("idle", server);
    uint64_t lost = 0;

    constexpr size_t kIdlers = 20;
    std::vector<pb::UniqueFd> idlers;
    std::vector<Clock::time_point> answered(kIdlers), closed_at(kIdlers);
    for (size_t i = 0; i < kIdlers; ++i) {
        idlers.push_back(connect_local(server.port()));
        send_all(idlers[i].get(), request_for(http, i, 10));
        CHECK(read_reply(http, idlers[i].get(), i, 10, lost));
        answered[i] = Clock::now();
    }
    run.tried(kIdlers);
    auto busy = connect_local(server.port());
    int busy_served = 0;
    auto start = Clock::now();
    auto next_busy = start;
    size_t open = kIdlers;
    while (Clock::now() - start < 1s || (open > 0 && Clock::now() - start < kSlow * 3s)) {
        if (Clock::now() >= next_busy) {
            send_all(busy.get(), request_for(http, 999, 10));
            busy_served += read_reply(http, busy.get(), 999, 10, lost);
            next_busy += 100ms;
        }
        for (size_t i = 0; i < kIdlers; ++i) {
            if (closed_at[i] == Clock::time_point{} &&
                peek_peer(idlers[i].get()) == Peer::kClosed) {
                closed_at[i] = Clock::now();
                --open;
            }
        }
        std::this_thread::sleep_for(5ms);
    }
    CHECK(open == 0);
    for (size_t i = 0; i < kIdlers; ++i) {
        if (closed_at[i] == Clock::time_point{}) continue;
        auto after = closed_at[i] - answered[i];
        INFO("idler " << i << " closed after "
                      << std::chrono::duration_cast<std::chrono::milliseconds>(after).count()
                      << " ms");
        CHECK(after >= kIdle - 10ms);
        CHECK(after < kIdle + kSlow * 400ms);
    }
    CHECK(busy_served >= 10);
    CHECK(peek_peer(busy.get()) == Peer::kQuiet);  // still open: it was never idle long
    run.lost(lost);

    idlers.clear();
    busy.reset();
    CHECK(wait_for_fds(server, base, 2s) == base);
    run.stop(server);
    auto stats = read_stats(stats_path.str());
    REQUIRE(stats.ok());
    CHECK(stats.total("idle_timeout") >= int64_t(kIdlers));
}

// 6. Clients that pipeline requests for 1 MiB replies and never read. Reading
// stops while a connection's output is above --output-high-water, so what the
// server buffers is bounded by that mark plus one reply, whatever is owed;
// after --write-timeout without progress the connection is closed. A client
// that starts reading after 2 s, within the write timeout, gets every byte.
TEST_CASE("never-reading clients: output capped, cut after --write-timeout, late reader whole",
          "[faults]") {
    const auto target = GENERATE(from_range(every_server_in_both_protocols()));
    bool http = target.http();
    INFO(target);
    constexpr size_t kHighWater = 256 * 1024;
    constexpr uint32_t kReply = 1u << 20;
    constexpr auto kWriteTimeout = 3s;
    TempPath stats_path;
    ServerProcess server(target.binary,
                         target.args({"--output-high-water", std::to_string(kHighWater),
                                      "--write-timeout", "3s", "--stats-file", stats_path.str()}));
    size_t base = settled_fds(server, http);
    long rss_before = server.rss_kb();
    FaultRun run("never_reads", server);

    // Four deaf clients, 64 MiB owed to each; a tiny receive buffer so the
    // kernel holds little of it for them.
    constexpr int kDeaf = 4;
    constexpr int kDeep = 64;
    std::vector<pb::UniqueFd> deaf;
    for (int c = 0; c < kDeaf; ++c) {
        deaf.push_back(connect_with_buffers(server.port(), 4096, 0));
        std::string flood;
        for (int i = 0; i < kDeep; ++i) flood += request_for(http, uint64_t(c * 100 + i), kReply);
        send_all(deaf.back().get(), flood);
    }
    // The late reader: 16 replies of different sizes, read from 2 s on.
    constexpr int kLate = 16;
    auto late = connect_with_buffers(server.port(), 16384, 0);
    std::string batch;
    for (int i = 0; i < kLate; ++i)
        batch += request_for(http, uint64_t(500 + i), kReply - uint32_t(i));
    send_all(late.get(), batch);
    auto flood_at = Clock::now();
    run.tried(kDeaf + 1);

    std::this_thread::sleep_until(flood_at + 2s);
    uint64_t lost = 0;
    int late_ok = 0;
    for (int i = 0; i < kLate; ++i)
        late_ok += read_reply(http, late.get(), uint64_t(500 + i), kReply - uint32_t(i), lost);
    CHECK(late_ok == kLate);
    run.lost(lost);

    late.reset();

    // The close is checked on the server's side: its descriptors. A client
    // cannot always see it: when the server had read every request, its FIN
    // waits behind unsent data that a zero window never lets through.
    std::this_thread::sleep_until(flood_at + kWriteTimeout - 300ms);
    CHECK(server.open_fds() >= base + kDeaf);  // nobody was cut early
    size_t fds = wait_for_fds(server, base, kWriteTimeout + kSlow * 2s);
    auto closed_after = Clock::now() - flood_at;
    INFO("deaf clients closed after "
         << std::chrono::duration_cast<std::chrono::milliseconds>(closed_after).count() << " ms");
    CHECK(fds == base);
    CHECK(closed_after >= kWriteTimeout - 100ms);
    CHECK(closed_after < kWriteTimeout + kSlow * 1s);
    long rss_growth_kb = run.peaks().rss_kb() - rss_before;
    INFO("RSS grew by " << rss_growth_kb << " KiB while " << kDeaf * kDeep
                        << " MiB were owed to clients that do not read");
    CHECK(rss_growth_kb < 64 * 1024);
    record_figure("never_reads", target.binary, "rss_growth_kb", double(rss_growth_kb));
    CHECK(round_trip_any(http, server.port()));
    run.stop(server);

    auto stats = read_stats(stats_path.str());
    REQUIRE(stats.ok());
    INFO("output_high_water " << stats.total("output_high_water"));
    CHECK(stats.total("output_high_water") <= int64_t(kHighWater + kReply + 1024));
    CHECK(stats.total("write_timeout") == kDeaf);
    record_figure("never_reads", target.binary, "output_high_water",
                  double(stats.total("output_high_water")));
}
