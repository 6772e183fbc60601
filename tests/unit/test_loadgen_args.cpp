// The load generator's command line (pure, no sockets): wrk-style durations
// and every option, its defaults, the knobs it parses and the combinations it
// refuses.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "loadgen.hpp"

using namespace std::chrono_literals;
namespace lg = pb::loadgen;

TEST_CASE("loadgen durations take wrk-style units", "[loadgen]") {
    CHECK(lg::parse_duration("500ms") == 500ms);
    CHECK(lg::parse_duration("2s") == 2s);
    CHECK(lg::parse_duration("1m") == 60s);
    CHECK(lg::parse_duration("250us") == 250us);
    CHECK(lg::parse_duration("3") == 3s);
    CHECK(lg::parse_duration("1.5s") == 1500ms);
    CHECK_THROWS_AS(lg::parse_duration("2 s"), lg::ArgsError);
    CHECK_THROWS_AS(lg::parse_duration("fast"), lg::ArgsError);
    CHECK(lg::format_duration(lg::parse_duration("1m")) == "1m");
    CHECK(lg::format_duration(lg::parse_duration("1500ms")) == "1500ms");
}

TEST_CASE("command line: defaults, knobs and refusals", "[loadgen]") {
    auto c = lg::parse_args({"127.0.0.1:9000",
                             "-c",
                             "7",
                             "-t",
                             "3",
                             "-d",
                             "500ms",
                             "-R",
                             "2k",
                             "--arrival",
                             "poisson",
                             "--protocol",
                             "http",
                             "--response-size",
                             "4k",
                             "--split-at",
                             "10",
                             "--nodelay",
                             "off",
                             "--cpus",
                             "0,2-3"});
    CHECK(c.port == 9000);
    CHECK(c.connections == 7);
    CHECK(c.threads == 3);
    CHECK(c.duration == 500ms);
    CHECK(c.rate == 2000.0);
    CHECK(c.arrival == lg::Arrival::kPoisson);
    CHECK(c.protocol == lg::Protocol::kHttp);
    CHECK(c.reply_bytes() == 4096);
    CHECK(c.write_mode == lg::WriteMode::kSplit);  // --split-at alone means split writes
    CHECK(c.split_at == 10);
    CHECK_FALSE(c.nodelay);
    CHECK(c.cpus == std::vector<int>{0, 2, 3});

    auto u = lg::parse_args({"http://localhost:8080/x/y"});
    CHECK(u.protocol == lg::Protocol::kHttp);
    CHECK(u.host == "localhost");
    CHECK(u.port == 8080);
    CHECK(u.path == "/x/y");
    CHECK(lg::parse_args({"http://127.0.0.1"}).port == 80);
    CHECK_THROWS_AS(lg::parse_args({"http://127.0.0.1:1/?size=5"}), lg::ArgsError);
    CHECK_THROWS_AS(lg::parse_args({"http://127.0.0.1:1/", "--protocol", "frame"}), lg::ArgsError);

    CHECK_THROWS_AS(lg::parse_args({}), lg::ArgsError);
    CHECK_THROWS_AS(lg::parse_args({"localhost"}), lg::ArgsError);
    CHECK_THROWS_AS(lg::parse_args({"127.0.0.1:1", "--split-writes", "--cork"}), lg::ArgsError);
    CHECK_THROWS_AS(lg::parse_args({"127.0.0.1:1", "--writev", "--write-chunk", "20"}),
                    lg::ArgsError);
    CHECK(lg::parse_args({"127.0.0.1:1", "--write-chunk", "20"}).write_mode ==
          lg::WriteMode::kChunks);
    CHECK_THROWS_AS(lg::parse_args({"127.0.0.1:1", "--slow-fraction", "0.1"}), lg::ArgsError);
    CHECK_THROWS_AS(lg::parse_args({"127.0.0.1:1", "--connect-per-request", "--pipeline", "4"}),
                    lg::ArgsError);
    try {
        lg::parse_args({"--help"});
        FAIL("--help did not ask for help");
    } catch (const lg::HelpRequested& h) {
        std::string text = h.what();
        CHECK(text.find("Open loop") != std::string::npos);
        CHECK(text.find("Closed loop") != std::string::npos);
    }
}

TEST_CASE("fastopen flag: TCP_FASTOPEN_CONNECT, off by default", "[loadgen]") {
    CHECK_FALSE(lg::parse_args({"127.0.0.1:1"}).fastopen);
    CHECK(lg::parse_args({"127.0.0.1:1", "--fastopen", "--connect-per-request"}).fastopen);
}
