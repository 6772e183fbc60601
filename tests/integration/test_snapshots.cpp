// SIGUSR1 snapshots: every server, asked with SIGUSR1, appends one JSON line
// of its own accounting (getrusage, threads, per-thread requests and accepts)
// to "<stats-file>.snapshots" and keeps serving. Checked here from outside:
// the lines parse, counters between two snapshots equal exactly the replies a
// client verified in between, threads that exited inside the window still
// count, and every thread keeps its id from line to line.
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <set>
#include <thread>
#include <vector>

#include "client.hpp"
#include "files.hpp"
#include "json.hpp"
#include "server_process.hpp"
#include "servers.hpp"

using namespace pbtest;
using pb::loadgen::Json;

namespace {

// A scratch directory holding the stats file and its snapshot file.
class StatsDir {
public:
    StatsDir() {
        char tmpl[] = "/tmp/pbtest-snap-XXXXXX";
        if (::mkdtemp(tmpl)) dir_ = tmpl;
        stats_ = dir_ + "/stats.json";
        snapshots_ = stats_ + ".snapshots";
    }
    ~StatsDir() {
        ::unlink(stats_.c_str());
        ::unlink(snapshots_.c_str());
        ::rmdir(dir_.c_str());
    }
    const std::string& dir() const { return dir_; }
    const std::string& stats() const { return stats_; }
    const std::string& snapshots() const { return snapshots_; }

private:
    std::string dir_, stats_, snapshots_;
};

// The complete lines of the snapshot file (a line counts once its '\n' is there).
std::vector<std::string> snapshot_lines(const std::string& path) {
    std::vector<std::string> lines;
    std::string text = pb::slurp(path);
    size_t start = 0;
    for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
        lines.push_back(text.substr(start, nl - start));
    return lines;
}

int64_t monotonic_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// Sends SIGUSR1 and waits for line `seq` to appear; returns it parsed. Also
// checks that the snapshot was taken between the signal and its line.
Json snapshot(const ServerProcess& server, const StatsDir& dir, size_t seq) {
    int64_t sent = monotonic_ns();
    REQUIRE(::kill(server.pid(), SIGUSR1) == 0);
    auto deadline = std::chrono::steady_clock::now() + 20s;
    std::vector<std::string> lines = snapshot_lines(dir.snapshots());
    while (lines.size() <= seq && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(5ms);
        lines = snapshot_lines(dir.snapshots());
    }
    int64_t seen = monotonic_ns();
    INFO("snapshot " << seq << " never appeared");
    REQUIRE(lines.size() == seq + 1);
    INFO(lines.back());
    Json j = Json::parse(lines.back());
    CHECK(j.at("seq").as_int() == static_cast<int64_t>(seq));
    CHECK(j.at("t_ns").as_int() >= sent);
    CHECK(j.at("t_ns").as_int() <= seen);
    return j;
}

uint64_t field(const Json& j, const char* key) {
    return static_cast<uint64_t>(j.at(key).as_int());
}

uint64_t cpu_us(const Json& j) {
    return field(j, "utime_us") + field(j, "stime_us");
}

// The per_thread entry `id` of a snapshot.
const Json& thread_entry(const Json& snap, int64_t id) {
    for (const auto& t : snap.at("per_thread").as_array())
        if (t.at("id").as_int() == id) return t;
    throw std::runtime_error("no per_thread entry " + std::to_string(id));
}

// Every field of the contract, in order, and per_thread adding up to the totals.
void check_shape(const Json& snap) {
    std::vector<std::string> keys;
    for (const auto& [k, v] : snap.as_object()) keys.push_back(k);
    CHECK(keys == std::vector<std::string>{"seq", "t_ns", "utime_us", "stime_us", "nvcsw", "nivcsw",
                                           "maxrss_kb", "threads_now", "requests", "accepted",
                                           "syscalls", "per_thread"});
    std::vector<std::string> kinds;
    for (const auto& [k, v] : snap.at("syscalls").as_object()) kinds.push_back(k);
    CHECK(kinds ==
          std::vector<std::string>{"read", "write", "poll", "accept", "wakeup", "uring_enter"});
    // A request served was read first (one read may carry several; a reply
    // may still be on its way out when the snapshot is taken): by a recv(), or
    // inside an io_uring the server entered (server-uring).
    if (field(snap, "requests") > 0)
        CHECK(field(snap.at("syscalls"), "read") + field(snap.at("syscalls"), "uring_enter") > 0);
    CHECK(field(snap, "maxrss_kb") > 0);
    CHECK(field(snap, "threads_now") >= 1);  // signals are taken in a loop: no thread of their own
    uint64_t requests = 0, accepted = 0;
    std::set<int64_t> ids;
    for (const auto& t : snap.at("per_thread").as_array()) {
        requests += field(t, "requests");
        accepted += field(t, "accepted");
        ids.insert(t.at("id").as_int());
        auto role = t.at("role").as_string();
        CHECK((role == "loop" || role == "acceptor" || role == "worker" || role == "connection"));
    }
    CHECK(ids.size() == snap.at("per_thread").as_array().size());
    CHECK(requests == field(snap, "requests"));
    CHECK(accepted == field(snap, "accepted"));
}

// `count` verified frame round trips, each spinning `spin_us` in the server,
// over `connections` keep-alive connections in turn, or on a connection of
// its own each (`churn`). Returns the replies verified.
uint64_t round_trips(uint16_t port, uint64_t count, uint32_t spin_us, size_t connections,
                     bool churn = false) {
    std::vector<pb::UniqueFd> fds;
    if (!churn)
        for (size_t i = 0; i < connections; ++i) fds.push_back(connect_local(port));
    uint64_t verified = 0;
    for (uint64_t i = 0; i < count; ++i) {
        pb::UniqueFd own;
        if (churn) own = connect_local(port);
        int fd = churn ? own.get() : fds[i % fds.size()].get();
        uint32_t size = 32 + static_cast<uint32_t>(i % 200);
        send_all(fd, frame_request(
                         {.id = i + 1, .body_len = size, .reply_len = size, .spin_us = spin_us}));
        auto problem = read_verified_reply(fd, i + 1, size);
        INFO(problem.value_or(""));
        CHECK_FALSE(problem.has_value());
        if (!problem) ++verified;
    }
    return verified;
}

}  // namespace

TEST_CASE("SIGUSR1 snapshots count exactly the requests served between them",
          "[snapshot][threaded]") {
    const auto& servers = all_servers();
    auto index = GENERATE_COPY(range(size_t{0}, servers.size()));
    const std::string& binary = servers[index];
    INFO(binary);
    StatsDir dir;
    ServerProcess server(binary, {"--stats-file", dir.stats()});

    CHECK(round_trips(server.port(), 20, 0, 2) == 20);
    Json a = snapshot(server, dir, 0);
    CHECK(round_trips(server.port(), 60, 200, 3) == 60);  // 12 ms of spin, at least
    Json b = snapshot(server, dir, 1);
    check_shape(a);
    check_shape(b);
    CHECK(b.at("t_ns").as_int() > a.at("t_ns").as_int());
    CHECK(field(b, "requests") - field(a, "requests") == 60);
    CHECK(field(b, "accepted") - field(a, "accepted") == 3);
    CHECK(field(a, "requests") == 20);
    CHECK(field(a, "accepted") == 2);
    CHECK(cpu_us(b) > cpu_us(a));
    CHECK(field(b, "nvcsw") >= field(a, "nvcsw"));

    // Still serving, and the stats file at exit agrees with the snapshots.
    CHECK(round_trips(server.port(), 10, 0, 1) == 10);
    stop_cleanly(server);
    Json stats = Json::parse(pb::slurp(dir.stats()));
    CHECK(field(stats.at("total"), "requests") == 90);
    CHECK(snapshot_lines(dir.snapshots()).size() == 2);
}

TEST_CASE("thread-per-conn: connection threads that exit inside the window still count",
          "[snapshot][threaded]") {
    StatsDir dir;
    ServerProcess server("server-thread-per-conn", {"--stats-file", dir.stats()});
    // One connection thread first, come and gone: TSan's runtime starts a
    // thread of its own with the process's first pthread_create, and the
    // server starts none before its first connection.
    CHECK(round_trips(server.port(), 1, 0, 0, true) == 1);
    size_t idle_threads = 0;
    for (auto until = std::chrono::steady_clock::now() + 2s;
         std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(50ms)) {
        size_t now = server.threads();
        if (now == idle_threads) break;
        idle_threads = now;
    }
    Json a = snapshot(server, dir, 0);

    // A connection, and so a thread, per request; each spins 1 ms.
    constexpr uint64_t kRequests = 150;
    CHECK(round_trips(server.port(), kRequests, 1000, 0, true) == kRequests);
    // Wait until every connection thread has exited: all of them ended inside the window.
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (server.threads() > idle_threads && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(5ms);
    REQUIRE(server.threads() == idle_threads);
    Json b = snapshot(server, dir, 1);
    check_shape(a);
    check_shape(b);

    CHECK(field(b, "requests") - field(a, "requests") == kRequests);
    CHECK(field(b, "accepted") - field(a, "accepted") == kRequests);
    CHECK(field(b, "threads_now") == idle_threads);
    // One acceptor and one summed "connection" entry, whatever the threads did.
    REQUIRE(b.at("per_thread").as_array().size() == 2);
    CHECK(thread_entry(b, 0).at("role").as_string() == "acceptor");
    CHECK(thread_entry(b, 1).at("role").as_string() == "connection");
    CHECK(field(thread_entry(b, 1), "requests") - field(thread_entry(a, 1), "requests") ==
          kRequests);
    CHECK(field(thread_entry(b, 0), "accepted") - field(thread_entry(a, 0), "accepted") ==
          kRequests);
    // 150 ms of spin ran on threads that are gone; getrusage(RUSAGE_SELF) still
    // has it. Generous bound: the spin is wall time, and this machine is shared.
    CHECK(cpu_us(b) > cpu_us(a));
    CHECK(cpu_us(b) - cpu_us(a) >= kRequests * 1000 / 10);
    stop_cleanly(server);
}

TEST_CASE("every thread keeps its snapshot id, the stats file's index", "[snapshot][threaded]") {
    struct Variant {
        std::string binary;
        std::vector<std::string> args;
        std::vector<std::string> roles;  // per_thread, in id order
    };
    const std::vector<Variant> variants = {
#ifndef PB_TSAN_BUILD
        {"server-single", {}, {"loop"}},
#endif
        {"server-thread-per-conn", {}, {"acceptor", "connection"}},
        {"server-worker-queue", {"--threads", "2"}, {"loop", "worker", "worker"}},
        {"server-multi-accept", {"--threads", "2"}, {"loop", "loop"}},
        {"server-multi-accept",
         {"--threads", "2", "--accept-mode", "blocking"},
         {"loop", "acceptor", "loop", "acceptor"}},
        {"server-reuseport", {"--threads", "2"}, {"loop", "loop"}},
        {"server-reactor-pool", {"--threads", "2"}, {"acceptor", "loop", "loop"}},
        {"server-uring", {"--threads", "2"}, {"loop", "loop"}},
    };
    auto index = GENERATE_COPY(range(size_t{0}, variants.size()));
    const Variant& v = variants[index];
    if (skip_unavailable(v.binary)) return;
    std::string name = v.binary;
    for (const auto& a : v.args) name += " " + a;
    INFO(name);
    StatsDir dir;
    std::vector<std::string> args = v.args;
    args.insert(args.end(), {"--stats-file", dir.stats()});
    ServerProcess server(v.binary, args);

    std::vector<Json> snaps;
    for (size_t seq = 0; seq < 3; ++seq) {
        CHECK(round_trips(server.port(), 12, 0, 4) == 12);
        snaps.push_back(snapshot(server, dir, seq));
    }
    for (const auto& s : snaps) {
        check_shape(s);
        const auto& per_thread = s.at("per_thread").as_array();
        REQUIRE(per_thread.size() == v.roles.size());
        for (size_t id = 0; id < per_thread.size(); ++id) {
            CHECK(per_thread[id].at("id").as_int() == static_cast<int64_t>(id));
            CHECK(per_thread[id].at("role").as_string() == v.roles[id]);
        }
    }
    // Counters per id never go back.
    for (size_t i = 1; i < snaps.size(); ++i) {
        for (size_t id = 0; id < v.roles.size(); ++id) {
            const Json& before = snaps[i - 1].at("per_thread").as_array()[id];
            const Json& after = snaps[i].at("per_thread").as_array()[id];
            CHECK(field(after, "requests") >= field(before, "requests"));
            CHECK(field(after, "accepted") >= field(before, "accepted"));
        }
    }
    size_t loops = 0;
    for (const auto& r : v.roles) loops += r == "loop";
    bool multi_loop = v.binary == "server-multi-accept" || v.binary == "server-reuseport" ||
                      v.binary == "server-reactor-pool" || v.binary == "server-uring";
    if (multi_loop) CHECK(loops >= 2);

    // No traffic after the last snapshot: the stats file at exit has the same
    // counts, entry for entry, with the snapshot id as its index.
    stop_cleanly(server);
    Json stats = Json::parse(pb::slurp(dir.stats()));
    const auto& threads = stats.at("threads").as_array();
    const auto& last = snaps.back().at("per_thread").as_array();
    REQUIRE(threads.size() == last.size());
    for (size_t id = 0; id < threads.size(); ++id) {
        INFO("id " << id);
        CHECK(threads[id].at("role").as_string() == last[id].at("role").as_string());
        CHECK(field(threads[id], "requests") == field(last[id], "requests"));
        CHECK(field(threads[id], "accepted") == field(last[id], "accepted"));
    }
}

TEST_CASE("without --stats-file SIGUSR1 changes nothing", "[snapshot][threaded]") {
    const auto& servers = all_servers();
    auto index = GENERATE_COPY(range(size_t{0}, servers.size()));
    INFO(servers[index]);
    ServerProcess server(servers[index]);
    CHECK(round_trips(server.port(), 5, 0, 1) == 5);
    for (int i = 0; i < 3; ++i) {
        REQUIRE(::kill(server.pid(), SIGUSR1) == 0);
        std::this_thread::sleep_for(20ms);
    }
    CHECK(server.running());
    CHECK(round_trips(server.port(), 5, 0, 1) == 5);
    stop_cleanly(server);
}
