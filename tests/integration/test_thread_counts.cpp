// Each pattern runs exactly the threads its pattern names, seen in
// /proc/<pid>/status: signals (SIGTERM, SIGINT, SIGUSR1) are taken inside a
// loop, or by thread-per-conn's acceptor, never by a thread of their own.
//   single 1; reuseport and multi-accept N loops; multi-accept blocking N
//   loops + N acceptors; reactor-pool 1 + N; worker-queue 1 + N workers;
//   thread-per-conn 1 + one per open connection.
// The same count shows in a SIGUSR1 snapshot (threads_now, taken while the
// server runs) and in the stats file (peak_threads). Not under TSan: its
// runtime adds a thread of its own.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <regex>
#include <thread>
#include <vector>

#include "client.hpp"
#include "files.hpp"
#include "patterns.hpp"
#include "server_process.hpp"
#include "test_faults_support.hpp"

using namespace pbtest;
using namespace pbtest::faults;

namespace {

struct Expectation {
    std::string binary;
    std::vector<std::string> args;
    size_t threads;  // idle; thread-per-conn adds one per open connection
};

// --threads 2 wherever the pattern takes it.
const std::vector<Expectation>& expectations() {
    static const std::vector<Expectation> all = {
        {"server-iterative", {}, 1},
        {"server-single", {}, 1},
        {"server-thread-per-conn", {}, 1},
        {"server-worker-queue", {"--threads", "2"}, 1 + 2},
        {"server-multi-accept", {"--threads", "2", "--accept-mode", "exclusive"}, 2},
        {"server-multi-accept", {"--threads", "2", "--accept-mode", "herd"}, 2},
        {"server-multi-accept", {"--threads", "2", "--accept-mode", "blocking"}, 2 + 2},
        {"server-reuseport", {"--threads", "2"}, 2},
        {"server-reactor-pool", {"--threads", "2"}, 1 + 2},
        // Rings: no io-wq worker, since nothing it does blocks; with --sqpoll the
        // kernel adds its submission-polling thread per ring, counted as ours.
        {"server-uring", {"--threads", "2"}, 2},
        {"server-uring", {"--threads", "2", "--sqpoll"}, 2 + 2},
    };
    return all;
}

#ifndef PB_TSAN_BUILD
// Waits for the count to reach `n`, then checks that it stays there for a
// while (a thread spawned after "listening" would show up late).
size_t settled_threads(const ServerProcess& server, size_t n) {
    eventually([&] { return server.threads() == n; }, 3s);
    std::this_thread::sleep_for(200ms);
    return server.threads();
}

// Sends SIGUSR1 and returns the new snapshot line's threads_now (-1 if none came).
int64_t snapshot_threads(const ServerProcess& server, const std::string& snapshots,
                         size_t lines_before) {
    REQUIRE(::kill(server.pid(), SIGUSR1) == 0);
    std::string text;
    auto has_line = [&] {
        text = pb::slurp(snapshots);
        return static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) > lines_before;
    };
    if (!eventually(has_line, 5s)) return -1;
    std::smatch m;
    std::string last = text.substr(text.rfind('\n', text.size() - 2) + 1);
    if (!std::regex_search(last, m, std::regex("\"threads_now\": ?(\\d+)"))) return -1;
    return std::stoll(m[1]);
}
#endif

}  // namespace

TEST_CASE("every pattern has an expected thread count", "[patterns][threads]") {
    for (const auto& p : pb::kPatterns) {
        INFO(pb::server_binary(p));
        CHECK(std::any_of(expectations().begin(), expectations().end(),
                          [&](const Expectation& e) { return e.binary == pb::server_binary(p); }));
    }
}

#ifndef PB_TSAN_BUILD  // TSan's runtime adds a thread of its own
TEST_CASE("each pattern runs exactly its pattern's threads, signals taken without a thread",
          "[patterns][threads]") {
    auto index = GENERATE(range(size_t{0}, expectations().size()));
    const Expectation& e = expectations()[index];
    if (skip_unavailable(e.binary)) return;
    INFO(e.binary << (e.args.empty() ? "" : " " + e.args.back()));
    TempPath stats_path;
    std::vector<std::string> args = e.args;
    args.insert(args.end(), {"--stats-file", stats_path.str()});
    ServerProcess server(e.binary, args);

    // Idle, then after a connection came and went.
    CHECK(settled_threads(server, e.threads) == e.threads);
    CHECK(serves_frame(server.port(), 1));
    CHECK(settled_threads(server, e.threads) == e.threads);

    // SIGUSR1 is answered, and by no extra thread.
    std::string snapshots = stats_path.str() + ".snapshots";
    CHECK(snapshot_threads(server, snapshots, 0) == int64_t(e.threads));
    size_t peak = e.threads;

    if (e.binary == "server-thread-per-conn") {
        // K open connections, each past a round trip: 1 + K.
        constexpr size_t kOpen = 3;
        std::vector<pb::UniqueFd> open;
        for (size_t k = 0; k < kOpen; ++k) {
            open.push_back(connect_local(server.port()));
            CHECK(round_trip(open.back().get(), 10 + k));
        }
        CHECK(settled_threads(server, 1 + kOpen) == 1 + kOpen);
        CHECK(snapshot_threads(server, snapshots, 1) == int64_t(1 + kOpen));
        peak = 1 + kOpen;
        open.clear();
        CHECK(settled_threads(server, 1) == 1);
    }
    REQUIRE(server.running());
    stop_cleanly(server);
    auto stats = read_stats(stats_path.str());
    REQUIRE(stats.ok());
    CHECK(stats.peak_threads() == int64_t(peak));
}
#endif
