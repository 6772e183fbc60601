// What every pattern owes under load: per-thread counters in --stats-file
// that add up to the replies the clients verified, and a clean SIGTERM while
// clients are busy, with nothing answered lost.
#include <signal.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "client.hpp"
#include "patterns_support.hpp"
#include "server_process.hpp"
#include "temp_path.hpp"

using namespace pbtest;
using namespace pbtest::patterns;

namespace {

// One client connection: batches of `depth` pipelined frames, every reply
// verified, until `stop`, `max_requests`, or the server closes. A reply that
// never comes because the server closed between requests is not a problem; a
// wrong or truncated one is.
struct ClientResult {
    uint64_t verified = 0;
    std::string problem;
};

ClientResult drive_frames(uint16_t port, uint64_t client, size_t depth, uint64_t max_requests,
                          const std::atomic<bool>& stop) {
    ClientResult result;
    try {
        auto fd = connect_local(port);
        uint64_t next = 0;
        while (!stop.load() && next < max_requests) {
            std::string batch;
            std::vector<std::pair<uint64_t, uint32_t>> owed;
            for (size_t i = 0; i < depth && next < max_requests; ++i, ++next) {
                uint64_t id = client * 1'000'000 + next;
                auto size = static_cast<uint32_t>((next * 97) % 3000);
                uint32_t sleep_us = next % 5 == 0 ? 2000 : 0;  // some work in flight
                batch += frame_request(
                    {.id = id, .body_len = size / 2, .reply_len = size, .sleep_us = sleep_us});
                owed.emplace_back(id, size);
            }
            send_all(fd.get(), batch);
            for (auto [id, size] : owed) {
                auto problem = read_verified_reply(fd.get(), id, size, 10s);
                if (!problem) {
                    ++result.verified;
                    continue;
                }
                if (*problem != "short reply header (0 bytes)") result.problem = *problem;
                return result;  // closed by the server (shutdown), or wrong
            }
        }
    } catch (const std::exception&) {
        // connect or send failed: the server is shutting down; nothing was owed.
    }
    return result;
}

// `n` client threads at once, client c running
// drive_frames(port, c, depth, max_requests, stop).
class FrameClients {
public:
    FrameClients(uint16_t port, int n, size_t depth, uint64_t max_requests) : results_(size_t(n)) {
        for (int c = 0; c < n; ++c) {
            threads_.emplace_back([this, port, c, depth, max_requests] {
                results_[size_t(c)] = drive_frames(port, uint64_t(c), depth, max_requests, stop_);
            });
        }
    }
    ~FrameClients() {
        stop();
        for (auto& t : threads_) {
            if (t.joinable()) t.join();
        }
    }
    FrameClients(const FrameClients&) = delete;
    FrameClients& operator=(const FrameClients&) = delete;

    // Ends every client after its current request.
    void stop() { stop_ = true; }

    // Waits for every client to end, CHECKs that none saw a wrong or cut reply,
    // and returns the replies verified in all.
    uint64_t join() {
        for (auto& t : threads_) t.join();
        uint64_t verified = 0;
        for (const auto& r : results_) {
            INFO(r.problem);
            CHECK(r.problem.empty());
            verified += r.verified;
        }
        return verified;
    }

private:
    std::atomic<bool> stop_{false};
    std::vector<ClientResult> results_;
    std::vector<std::thread> threads_;
};

}  // namespace

TEST_CASE("per-thread stats add up to the replies the clients verified", "[patterns][threaded]") {
    const Variant v = GENERATE(from_range(every_variant()));
    INFO(describe(v));
    TempPath stats_path;
    ServerProcess server(v.binary, with(v.args, {"--stats-file", stats_path.str()}));
    constexpr int kClients = 6;
    constexpr uint64_t kPerClient = 60;
    FrameClients clients(server.port(), kClients, 4, kPerClient);
    uint64_t verified = clients.join();
    CHECK(verified == kClients * kPerClient);
    stop_cleanly(server);

    auto stats = read_stats(stats_path.str());
    REQUIRE(stats.ok);
    CHECK(stats.sum("requests") == verified);
    CHECK(stats.total.n["requests"] == verified);
    CHECK(stats.sum("accepted") == kClients);
    CHECK(stats.sum("bytes_out") > 0);
}

TEST_CASE("every pattern shuts down cleanly under load", "[patterns][threaded]") {
    const Variant v = GENERATE(from_range(every_variant()));
    INFO(describe(v));
    TempPath stats_path;
    ServerProcess server(v.binary, with(v.args, {"--stats-file", stats_path.str()}));
    // One request at a time: a server closing between requests never leaves
    // unread requests behind, so no RST can eat a reply owed.
    FrameClients clients(server.port(), 8, 1, UINT64_MAX);
    std::this_thread::sleep_for(400ms);
    ::kill(server.pid(), SIGTERM);
    int code = server.wait(15s);
    clients.stop();  // the server closed every connection; this only ends stragglers
    uint64_t verified = clients.join();
    INFO(server.stderr_text());
    CHECK(code == 0);
    CHECK_FALSE(server.sanitizer_report());

    CHECK(verified > 0);
    auto stats = read_stats(stats_path.str());
    REQUIRE(stats.ok);
    // Every reply the server produced reached its client, and nothing else counted.
    CHECK(stats.sum("requests") == verified);
}
