// Every workload shape and TCP knob of the load generator runs clean against
// server-single: pipelining, large and split requests, writev, cork, MSG_MORE,
// chunked writes, Poisson arrivals, slow requests, HTTP, and a new connection
// per request with a FIN or RST close.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "loadgen.hpp"
#include "loadgen_test_support.hpp"
#include "server_process.hpp"

using namespace std::chrono_literals;
namespace lg = pb::loadgen;
using namespace pbtest::loadgen_test;

TEST_CASE("connect-per-request runs without errors", "[integration][loadgen]") {
    for (const char* protocol : {"frame", "http"}) {
        pbtest::ServerProcess server("server-single", {"--protocol", protocol});
        for (const char* close : {"fin", "rst"}) {
            auto r = run_loadgen(server.port(), {"-c", "4", "-d", "500ms", "--connect-per-request",
                                                 "--close", close, "--protocol", protocol});
            INFO(protocol << " close " << close << "\n" << describe(r));
            CHECK(r.stats.errors.total() == 0);
            CHECK(r.stats.requests > 50);
            CHECK(r.stats.connects >= r.stats.requests);
            CHECK(r.stats.connect_latency.count() > 0);
            CHECK(r.stats.first_byte_latency.count() > 0);
            CHECK(r.stats.first_byte_latency.value_at_percentile(50) >=
                  r.stats.connect_latency.value_at_percentile(50));
        }
        pbtest::stop_cleanly(server);
    }
}

// [threaded]: the TSan build runs this one, and loadgen runs two threads here.
TEST_CASE("workloads and TCP knobs run clean against server-single",
          "[integration][loadgen][threaded]") {
    pbtest::ServerProcess frame_server("server-single", {"--protocol", "frame"});
    pbtest::ServerProcess http_server("server-single", {"--protocol", "http"});
    struct Case {
        uint16_t port;
        std::vector<std::string> args;
    };
    std::vector<Case> cases = {
        {frame_server.port(),
         {"--pipeline", "8", "--request-size", "100", "--response-size", "100"}},
        {frame_server.port(), {"--request-size", "200k", "--response-size", "300k"}},
        {frame_server.port(), {"--split-writes", "--request-size", "100"}},
        {frame_server.port(), {"--writev", "--split-at", "10", "--request-size", "78"}},
        {frame_server.port(), {"--cork", "--quickack", "--nodelay", "off"}},
        {frame_server.port(), {"--msg-more", "--split-at", "10", "--request-size", "78"}},
        {frame_server.port(), {"--write-chunk", "20", "--request-size", "968"}},
        {frame_server.port(), {"-R", "2000", "--arrival", "poisson", "--pipeline", "4"}},
        {frame_server.port(), {"--slow-fraction", "0.2", "--slow-sleep-us", "500"}},
        {http_server.port(), {"--protocol", "http", "--pipeline", "4"}},
        {http_server.port(),
         {"--protocol", "http", "--response-size", "100k", "--request-size", "1000"}},
        {http_server.port(), {"--protocol", "http", "--split-writes", "-R", "1000"}},
    };
    for (auto& c : cases) {
        c.args.insert(c.args.end(), {"-c", "3", "-t", "2", "-d", "300ms"});
        auto r = run_loadgen(c.port, c.args);
        std::string joined;
        for (auto& a : c.args) joined += a + " ";
        INFO(joined << "\n" << describe(r));
        CHECK(r.stats.errors.total() == 0);
        CHECK(r.stats.requests > 0);
        CHECK(r.stats.connects == 3);  // 3 connections over 2 threads: none dropped
        CHECK(r.stats.tcp.connections == 3);
        CHECK(r.stats.tcp.segs_out > 0);
        if (r.config.slow_fraction > 0) {
            CHECK(r.stats.slow_requests > 0);
            CHECK(r.stats.fast_latency.count() + static_cast<int64_t>(r.stats.slow_requests) ==
                  r.stats.latency.count());
        }
    }
    pbtest::stop_cleanly(frame_server);
    pbtest::stop_cleanly(http_server);
}
