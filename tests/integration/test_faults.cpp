// Fault tests, transport level: what real clients and attackers do to a TCP
// server, run against every pattern. Each case starts its own server with short timeouts, does the
// damage, then checks that the server still serves, gives its descriptors
// back, and exits 0 on SIGTERM without a sanitizer report.
//
// Bad bytes (frames, HTTP limits) are in test_faults_input.cpp; thread caps and
// queues in test_faults_threads.cpp; scale and shutdown in test_faults_load.cpp.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "client.hpp"
#include "server_process.hpp"
#include "servers.hpp"
#include "test_faults_support.hpp"

using namespace pbtest;
using namespace pbtest::faults;

namespace {

// Servers whose listener sheds a connection at EMFILE with the reserve-fd
// trick; the others pause accepting and leave clients in the backlog.
bool sheds_at_fd_limit(const std::string& binary) {
    return binary == "server-single" || binary == "server-worker-queue" ||
           binary == "server-reactor-pool";
}

// What the peer did on a socket we have not read from: sent bytes, closed, or
// nothing yet.
enum class Peer { kData, kClosed, kQuiet };

Peer peek_peer(int fd) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) return Peer::kQuiet;
    char c;
    ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) return Peer::kData;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Peer::kQuiet;
    return Peer::kClosed;  // EOF or RST
}

// A request for `reply` bytes in either protocol, and the check of its reply.
std::string request_for(bool http, uint64_t id, uint32_t reply, uint32_t sleep_us = 0) {
    if (http) {
        std::string target = "/r?size=" + std::to_string(reply);
        if (sleep_us) target += "&sleep_us=" + std::to_string(sleep_us);
        return http_get(target);
    }
    return frame_request({.id = id, .reply_len = reply, .sleep_us = sleep_us});
}

// Reads one reply and counts the reply bytes that did not arrive intact.
bool read_reply(bool http, int fd, uint64_t id, uint32_t reply, uint64_t& lost,
                std::chrono::milliseconds timeout = 10s) {
    if (http) {
        auto resp = read_http_response(fd, timeout);
        bool ok = resp.complete && resp.status == 200 && resp.body.size() == reply;
        for (size_t i = 0; ok && i < resp.body.size(); ++i)
            ok = static_cast<uint8_t>(resp.body[i]) == i % 251;
        if (!ok) lost += reply;
        return ok;
    }
    auto problem = read_verified_reply(fd, id, reply, timeout);
    if (problem) {
        UNSCOPED_INFO("id " << id << ": " << *problem);
        lost += reply;
    }
    return !problem;
}

// The exact bytes of a frame reply, built from the wire format.
std::string expected_frame_reply(uint64_t id, uint32_t len) {
    std::string s;
    auto put32 = [&s](uint32_t v) {
        for (int shift = 24; shift >= 0; shift -= 8) s.push_back(char((v >> shift) & 0xff));
    };
    put32(0x50424E32);
    put32(len);
    put32(uint32_t(id >> 32));
    put32(uint32_t(id));
    for (uint32_t i = 0; i < len; ++i) s.push_back(char((id + i) % 251));
    return s;
}

// TcpExt ListenOverflows from /proc/net/netstat: accept-queue overflows,
// host-wide (other processes can only add to it).
uint64_t listen_overflows() {
    std::ifstream f("/proc/net/netstat");
    std::string names, values;
    while (std::getline(f, names) && std::getline(f, values)) {
        if (names.rfind("TcpExt:", 0) != 0) continue;
        std::istringstream n(names), v(values);
        std::string name, value;
        while (n >> name && v >> value) {
            if (name == "ListenOverflows") return std::stoull(value);
        }
    }
    return 0;
}

bool round_trip_any(bool http, uint16_t port) {
    return http ? serves_http(port) : serves_frame(port, 31337);
}

}  // namespace

// 1. A child with a low RLIMIT_NOFILE, filled with idle connections, then
// more: each newcomer is closed at once (reserve-fd) or waits in the backlog
// (pause), the server does not spin on a listener it cannot accept from, and
// once the fillers leave it serves again within a second.
TEST_CASE("EMFILE: no accept busy loop, newcomers shed or queued, recovery within 1 s",
          "[faults]") {
    raise_own_fd_limit();
    auto binary = GENERATE(from_range(all_servers()));
    INFO(binary);
    constexpr long kLimit = 64;
    TempPath stats_path;
    ServerProcess server(binary, {"--threads", "2", "--stats-file", stats_path.str()},
                         {.rlimit_nofile = kLimit});
    FaultRun run("emfile", server);

    // Fill: more connections than the child may hold descriptors.
    std::vector<pb::UniqueFd> fillers;
    for (long i = 0; i < kLimit; ++i) fillers.push_back(connect_local(server.port()));
    REQUIRE(eventually([&] { return server.open_fds() >= kLimit - 1; }, 3s));

    // Newcomers, each with a request it would like answered.
    constexpr int kNewcomers = 30;
    std::vector<pb::UniqueFd> newcomers;
    for (int i = 0; i < kNewcomers; ++i) {
        newcomers.push_back(connect_local(server.port()));
        send_all(newcomers.back().get(),
                 frame_request({.id = uint64_t(5000 + i), .reply_len = 10}));
    }
    run.tried(kNewcomers);
    std::this_thread::sleep_for(300ms);

    // Saturated for a second: CPU time stays under 10% of it.
    double cpu_before = server.cpu_seconds();
    auto measured_from = Clock::now();
    std::this_thread::sleep_for(1s);
    double cpu = server.cpu_seconds() - cpu_before;
    double wall = std::chrono::duration<double>(Clock::now() - measured_from).count();
    INFO("CPU " << cpu << " s in " << wall << " s while saturated");
    CHECK(cpu < 0.10 * wall);
    record_figure("emfile", binary, "cpu_share_saturated", cpu / wall);

    // Each newcomer was shed (closed without a reply) or waits untouched.
    int closed = 0;
    int waiting = 0;
    for (auto& fd : newcomers) {
        Peer p = peek_peer(fd.get());
        CHECK(p != Peer::kData);  // nobody can be served while the fds are gone
        (p == Peer::kClosed ? closed : waiting) += 1;
    }
    INFO(closed << " newcomers shed, " << waiting << " waiting");
    if (sheds_at_fd_limit(binary)) {
        CHECK(closed == kNewcomers);
    } else {
        CHECK(waiting == kNewcomers);
    }

    // The fillers leave; a new client is served within a second.
    fillers.clear();
    auto left_at = Clock::now();
    auto fresh = connect_local(server.port());
    bool served = round_trip(fresh.get(), 1, 64, 1s);
    auto recovery = Clock::now() - left_at;
    CHECK(served);
    CHECK(recovery < 1s);
    record_figure("emfile", binary, "recovery_ms",
                  double(std::chrono::duration_cast<std::chrono::milliseconds>(recovery).count()));
    // And whoever waited in the backlog gets the answer it was owed.
    uint64_t lost = 0;
    for (int i = 0; i < kNewcomers; ++i) {
        if (peek_peer(newcomers[size_t(i)].get()) == Peer::kClosed) continue;
        CHECK(read_reply(false, newcomers[size_t(i)].get(), uint64_t(5000 + i), 10, lost, 3s));
    }
    run.lost(lost);
    run.stop(server);
    auto stats = read_stats(stats_path.str());
    REQUIRE(stats.ok());
    CHECK(stats.total("accept_fd_limit") > 0);
}

// 2. Connections reset before the server accepts them (it is stopped with
// SIGSTOP meanwhile, so "before accept" is certain), and resets in the middle
// of a request, of a reply, and of slow work: the server keeps serving and
// gives every descriptor back.
TEST_CASE("RST before accept and mid-request: serving goes on, fds return to baseline",
          "[faults][threaded]") {
    auto binary = GENERATE(from_range(all_servers()));
    auto protocol = GENERATE(as<std::string>{}, "frame", "http");
    bool http = protocol == "http";
    INFO(binary << " " << protocol);
    ServerProcess server(binary, {"--threads", "2", "--protocol", protocol});
    FaultRun run("rst", server);
    size_t base = settled_fds(server, http);

    // Before accept: the whole backlog resets while the server cannot run.
    ::kill(server.pid(), SIGSTOP);
    {
        std::vector<pb::UniqueFd> doomed;
        for (int i = 0; i < 20; ++i) {
            doomed.push_back(connect_local(server.port()));
            if (i % 2) send_all(doomed.back().get(), request_for(http, 1, 100).substr(0, 10));
        }
        for (auto& fd : doomed) close_with_rst(fd);
        run.tried(20);
    }
    ::kill(server.pid(), SIGCONT);
    CHECK(round_trip_any(http, server.port()));

    // Mid-request: part of a request, then RST.
    for (int i = 0; i < 10; ++i) {
        auto fd = connect_local(server.port());
        std::string request =
            http ? std::string("POST /u HTTP/1.1\r\nContent-Length: 5000\r\n\r\n") +
                       std::string(100, 'b')
                 : frame_request({.id = 3, .body_len = 5000, .reply_len = 10}).substr(0, 32 + 100);
        send_all(fd.get(), request);
        std::this_thread::sleep_for(2ms);
        close_with_rst(fd);
    }
    // Mid-reply: ask for 1 MiB, take a little, then RST while the server writes.
    for (int i = 0; i < 10; ++i) {
        auto fd = connect_local(server.port());
        send_all(fd.get(), request_for(http, 4, 1u << 20));
        recv_exact(fd.get(), 1000, 2s);
        close_with_rst(fd);
    }
    // Mid-work: the request runs (a worker, a thread, or the loop) when the RST comes.
    for (int i = 0; i < 10; ++i) {
        auto fd = connect_local(server.port());
        send_all(fd.get(), request_for(http, 5, 100, 30'000));
        std::this_thread::sleep_for(5ms);
        close_with_rst(fd);
    }
    run.tried(30);

    CHECK(round_trip_any(http, server.port()));
    CHECK(wait_for_fds(server, base, 3s) == base);
    CHECK(server.running());
    run.stop(server);
}

// 3. A tiny --backlog overflows while the server is stopped. The kernel then
// drops SYNs, or the handshake's last ACK, and the clients' kernels retry in
// lockstep, so some clients wait long: each gives up after its own timeouts.
// Every client must end served byte-exact or timed out on its side; none may
// be closed unanswered or get a wrong reply, and the server must come out of
// the storm serving.
TEST_CASE("backlog overflow: every connect is served or times out cleanly, none hangs",
          "[faults]") {
    raise_own_fd_limit();
    auto binary = GENERATE(from_range(all_servers()));
    INFO(binary);
    ServerProcess server(binary, {"--threads", "2", "--backlog", "1"});
    size_t base = settled_fds(server, false);
    FaultRun run("backlog", server);

    constexpr int kClients = 40;
    constexpr auto kConnectTimeout = 2s;
    constexpr auto kAnswerTimeout = 2s;
    struct Client {
        pb::UniqueFd fd;
        enum State {
            kConnecting,
            kWaiting,
            kServed,
            kConnectFailed,
            kTimedOut,
            kClosedUnanswered
        } state = kConnecting;
        Clock::time_point connected_at;
        std::string got;
    };
    std::vector<Client> clients(kClients);
    uint64_t overflows_before = listen_overflows();
    ::kill(server.pid(), SIGSTOP);
    auto start = Clock::now();
    for (auto& c : clients) c.fd = connect_nonblocking(server.port());
    std::this_thread::sleep_for(300ms);
    ::kill(server.pid(), SIGCONT);
    run.tried(kClients);

    // Drive every client to an end state with one poll() loop.
    int connect_timeouts = 0;
    for (;;) {
        std::vector<pollfd> fds;
        std::vector<size_t> who;
        auto now = Clock::now();
        for (size_t i = 0; i < clients.size(); ++i) {
            Client& c = clients[i];
            if ((c.state == Client::kConnecting && now - start > kConnectTimeout) ||
                (c.state == Client::kWaiting && now - c.connected_at > kAnswerTimeout)) {
                connect_timeouts += c.state == Client::kConnecting;
                c.state = Client::kTimedOut;
                close_with_rst(c.fd);  // an RST also ends a half-open handshake
            }
            if (c.state == Client::kConnecting)
                fds.push_back({c.fd.get(), POLLOUT, 0});
            else if (c.state == Client::kWaiting)
                fds.push_back({c.fd.get(), POLLIN, 0});
            else
                continue;
            who.push_back(i);
        }
        if (fds.empty()) break;
        ::poll(fds.data(), fds.size(), 20);
        for (size_t k = 0; k < fds.size(); ++k) {
            Client& c = clients[who[k]];
            if (fds[k].revents == 0) continue;
            if (c.state == Client::kConnecting) {
                int err = 0;
                socklen_t len = sizeof err;
                ::getsockopt(c.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
                if (err != 0) {
                    c.state = Client::kConnectFailed;
                    continue;
                }
                c.state = Client::kWaiting;
                c.connected_at = Clock::now();
                auto request = frame_request({.id = who[k], .body_len = 20, .reply_len = 20});
                ::send(c.fd.get(), request.data(), request.size(), MSG_NOSIGNAL);
                continue;
            }
            char buf[256];
            ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, MSG_DONTWAIT);
            if (n > 0) c.got.append(buf, size_t(n));
            if (c.got.size() >= 16 + 20) {
                CHECK(c.got == expected_frame_reply(who[k], 20));
                c.state = Client::kServed;
            } else if (n == 0 || (n < 0 && errno != EAGAIN)) {
                c.state = Client::kClosedUnanswered;
            }
        }
    }
    auto took = Clock::now() - start;
    uint64_t overflows = listen_overflows() - overflows_before;
    int served = 0, failed = 0, timed_out = 0, unanswered = 0;
    for (const auto& c : clients) {
        served += c.state == Client::kServed;
        failed += c.state == Client::kConnectFailed;
        timed_out += c.state == Client::kTimedOut;
        unanswered += c.state == Client::kClosedUnanswered;
    }
    INFO(served << " served, " << failed << " refused, " << timed_out << " timed out ("
                << connect_timeouts << " in connect), " << unanswered << " closed unanswered, in "
                << std::chrono::duration<double>(took).count() << " s; " << overflows
                << " listen overflows");
    CHECK(overflows > 0);  // the premise: the kernel did overflow the backlog
    CHECK(unanswered == 0);
    CHECK(served + failed + timed_out == kClients);
    CHECK(served > 0);
    CHECK(took < kConnectTimeout + kAnswerTimeout + 1s);
    record_figure("backlog", binary, "served", served);
    record_figure("backlog", binary, "timed_out", timed_out);

    // Out of the storm: a fresh client is served and every descriptor is back.
    clients.clear();
    std::this_thread::sleep_for(200ms);
    CHECK(serves_frame(server.port(), 7));
    CHECK(wait_for_fds(server, base, 3s) == base);
    run.stop(server);
}

// 4. Slowloris, one client: a request that dribbles in a byte per 100 ms is cut
// at --header-timeout after its first byte. A request that arrives in pieces
// but within the deadline is served, and so is the next one on the same
// connection: the clock restarts per request, not per connection.
TEST_CASE("slowloris: the request deadline counts from the first byte", "[faults]") {
    auto binary = GENERATE(from_range(all_servers()));
    auto protocol = GENERATE(as<std::string>{}, "frame", "http");
    bool http = protocol == "http";
    INFO(binary << " " << protocol);
    constexpr auto kDeadline = 600ms;
    TempPath stats_path;
    ServerProcess server(binary, {"--threads", "2", "--protocol", protocol, "--header-timeout",
                                  "600ms", "--stats-file", stats_path.str()});
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
    auto binary = GENERATE(from_range(all_servers()));
    auto protocol = GENERATE(as<std::string>{}, "frame", "http");
    bool http = protocol == "http";
    INFO(binary << " " << protocol);
    constexpr auto kIdle = 300ms;
    TempPath stats_path;
    ServerProcess server(binary, {"--threads", "2", "--protocol", protocol, "--idle-timeout",
                                  "300ms", "--stats-file", stats_path.str()});
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
    auto binary = GENERATE(from_range(all_servers()));
    auto protocol = GENERATE(as<std::string>{}, "frame", "http");
    bool http = protocol == "http";
    INFO(binary << " " << protocol);
    constexpr size_t kHighWater = 256 * 1024;
    constexpr uint32_t kReply = 1u << 20;
    constexpr auto kWriteTimeout = 3s;
    TempPath stats_path;
    ServerProcess server(binary, {"--threads", "2", "--protocol", protocol, "--output-high-water",
                                  std::to_string(kHighWater), "--write-timeout", "3s",
                                  "--stats-file", stats_path.str()});
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
    record_figure("never_reads", binary, "rss_growth_kb", double(rss_growth_kb));
    CHECK(round_trip_any(http, server.port()));
    run.stop(server);

    auto stats = read_stats(stats_path.str());
    REQUIRE(stats.ok());
    INFO("output_high_water " << stats.total("output_high_water"));
    CHECK(stats.total("output_high_water") <= int64_t(kHighWater + kReply + 1024));
    CHECK(stats.total("write_timeout") == kDeaf);
    record_figure("never_reads", binary, "output_high_water",
                  double(stats.total("output_high_water")));
}

// 7. Partial writes both ways: 4 KiB socket buffers on the client make every
// read and write of a 1 MiB request and reply come in pieces.
TEST_CASE("partial writes: 1 MiB each way through 4 KiB socket buffers, byte-exact", "[faults]") {
    auto binary = GENERATE(from_range(all_servers()));
    auto protocol = GENERATE(as<std::string>{}, "frame", "http");
    bool http = protocol == "http";
    INFO(binary << " " << protocol);
    ServerProcess server(binary, {"--threads", "2", "--protocol", protocol});
    FaultRun run("partial_writes", server);

    auto fd = connect_with_buffers(server.port(), 4096, 4096);
    constexpr int kRequests = 4;
    constexpr uint32_t kSize = 1u << 20;
    // Written on another thread: the server answers while we are still
    // sending, and with buffers this small neither side can get ahead.
    std::thread writer([&] {
        try {
            for (int i = 0; i < kRequests; ++i) {
                uint32_t reply = kSize - uint32_t(i);
                if (http) {
                    send_all(fd.get(), "POST /up?size=" + std::to_string(reply) +
                                           " HTTP/1.1\r\nContent-Length: " + std::to_string(kSize) +
                                           "\r\n\r\n" + std::string(kSize, 'x'));
                } else {
                    send_all(
                        fd.get(),
                        frame_request({.id = uint64_t(i), .body_len = kSize, .reply_len = reply}));
                }
            }
        } catch (const std::exception& e) {
            UNSCOPED_INFO("writer: " << e.what());
        }
    });
    uint64_t lost = 0;
    int ok = 0;
    for (int i = 0; i < kRequests; ++i)
        ok += read_reply(http, fd.get(), uint64_t(i), kSize - uint32_t(i), lost, 20s);
    writer.join();
    CHECK(ok == kRequests);
    CHECK(lost == 0);
    run.tried(kRequests);
    run.lost(lost);
    run.stop(server);
}

// 8. Half-close: the client sends N requests (and the first bytes of one
// more), then shuts its write side. It is owed exactly N replies, then a clean
// FIN: no RST, no stray bytes.
TEST_CASE("half-close after N requests: exactly N replies, then EOF", "[faults]") {
    auto binary = GENERATE(from_range(all_servers()));
    auto protocol = GENERATE(as<std::string>{}, "frame", "http");
    bool http = protocol == "http";
    INFO(binary << " " << protocol);
    ServerProcess server(binary, {"--threads", "2", "--protocol", protocol});
    FaultRun run("half_close", server);
    uint64_t lost = 0;
    for (int n : {0, 1, 5}) {
        INFO("N = " << n);
        auto fd = connect_local(server.port());
        std::string batch;
        for (int i = 0; i < n; ++i)
            batch += request_for(http, uint64_t(i), uint32_t(1000 * i), i % 2 ? 20'000 : 0);
        if (n == 5) batch += request_for(http, 99, 10).substr(0, 9);  // never completed
        send_all(fd.get(), batch);
        ::shutdown(fd.get(), SHUT_WR);
        for (int i = 0; i < n; ++i)
            CHECK(read_reply(http, fd.get(), uint64_t(i), uint32_t(1000 * i), lost));
        size_t extra = 0;
        CHECK(wait_eof(fd.get(), 3s, extra));
        CHECK(extra == 0);
        run.tried();
    }
    run.lost(lost);
    run.stop(server);
}

// 9. SIGPIPE stays at its default in the child, so a single send() without
// MSG_NOSIGNAL to a reset peer would kill the server. Clients reset it while
// it writes 1 MiB replies, before it replies, and after a half-close.
TEST_CASE("SIGPIPE at its default disposition kills no server", "[faults][threaded]") {
    auto binary = GENERATE(from_range(all_servers()));
    auto protocol = GENERATE(as<std::string>{}, "frame", "http");
    bool http = protocol == "http";
    INFO(binary << " " << protocol);
    ServerProcess server(binary, {"--threads", "2", "--protocol", protocol});
    FaultRun run("sigpipe", server);

    // Precondition: the server neither ignores nor catches SIGPIPE, or this
    // test would prove nothing about MSG_NOSIGNAL. (Blocked masks are per
    // thread and glibc blocks everything while it creates one: not checked.)
    std::ifstream status("/proc/" + std::to_string(server.pid()) + "/status");
    unsigned long long ignored = 0, caught = 0;
    for (std::string l; std::getline(status, l);) {
        if (l.rfind("SigIgn:", 0) == 0) ignored = std::stoull(l.substr(7), nullptr, 16);
        if (l.rfind("SigCgt:", 0) == 0) caught = std::stoull(l.substr(7), nullptr, 16);
    }
    REQUIRE((ignored & (1ull << (SIGPIPE - 1))) == 0);
    REQUIRE((caught & (1ull << (SIGPIPE - 1))) == 0);

    for (int i = 0; i < 20; ++i) {
        auto fd = connect_local(server.port());
        send_all(fd.get(), request_for(http, uint64_t(i), 1u << 20, i % 3 == 1 ? 20'000 : 0));
        switch (i % 3) {
            case 0:  // mid-reply
                recv_exact(fd.get(), 4096, 2s);
                close_with_rst(fd);
                break;
            case 1:  // before the reply: the server writes into a reset socket
                close_with_rst(fd);
                break;
            case 2:  // half-close, then gone with the reply unread
                ::shutdown(fd.get(), SHUT_WR);
                recv_exact(fd.get(), 100, 2s);
                fd.reset();
                break;
        }
        run.tried();
    }
    std::this_thread::sleep_for(100ms);
    CHECK(server.running());
    CHECK(round_trip_any(http, server.port()));
    run.stop(server);
}
