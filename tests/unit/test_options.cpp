// The shared server flags: durations with units, defaults, and rejection of
// bad values with a message rather than a silent fallback.
#include <catch2/catch.hpp>

#include "options.hpp"

using pb::Micros;
using pb::parse_duration;

TEST_CASE("durations take wrk-style units", "[unit][options]") {
    CHECK(parse_duration("500ms") == Micros(500'000));
    CHECK(parse_duration("2s") == Micros(2'000'000));
    CHECK(parse_duration("1m") == Micros(60'000'000));
    CHECK(parse_duration("250us") == Micros(250));
    CHECK(parse_duration("1.5s") == Micros(1'500'000));
    CHECK(parse_duration("3") == Micros(3'000'000));  // bare number: seconds
    CHECK(parse_duration("1h") == Micros(3'600'000'000LL));
    for (const char* bad : {"", "ms", "5x", "-1s", "1 s", "abc", "nan"}) {
        INFO(bad);
        CHECK_THROWS_AS(parse_duration(bad), std::invalid_argument);
    }
}

TEST_CASE("durations format back to their shortest unit", "[unit][options]") {
    CHECK(pb::format_duration(Micros(500'000)) == "500ms");
    CHECK(pb::format_duration(Micros(2'000'000)) == "2s");
    CHECK(pb::format_duration(Micros(120'000'000)) == "2m");
    CHECK(pb::format_duration(Micros(7)) == "7us");
}

namespace {

// Parses argv-style flags the way a server does; returns CLI11's exit code
// (0 on success) so tests can check rejections.
int parse(std::vector<std::string> args, pb::ServerOptions& o) {
    CLI::App app{"test"};
    pb::add_server_options(app, o);
    std::vector<const char*> argv{"server"};
    for (auto& a : args) argv.push_back(a.c_str());
    try {
        app.parse(static_cast<int>(argv.size()), argv.data());
    } catch (const CLI::ParseError& e) {
        return e.get_exit_code();
    }
    pb::finish_server_options(o);
    return 0;
}

}  // namespace

TEST_CASE("server flags parse into ServerOptions", "[unit][options]") {
    pb::ServerOptions o;
    REQUIRE(parse({"--protocol",
                   "http",
                   "--nodelay",
                   "off",
                   "--port",
                   "8080",
                   "--threads",
                   "3",
                   "--idle-timeout",
                   "750ms",
                   "--header-timeout",
                   "2s",
                   "--write-timeout",
                   "1m",
                   "--max-frame",
                   "4096",
                   "--backlog",
                   "16",
                   "--stats-file",
                   "/tmp/x.json",
                   "--fail-setsockopt-every",
                   "5"},
                  o) == 0);
    CHECK(o.protocol == pb::Protocol::kHttp);
    CHECK_FALSE(o.nodelay);
    CHECK(o.port == 8080);
    CHECK(o.threads == 3);
    CHECK(o.idle_timeout == Micros(750'000));
    CHECK(o.header_timeout == Micros(2'000'000));
    CHECK(o.write_timeout == Micros(60'000'000));
    CHECK(o.max_frame == 4096);
    CHECK(o.http.max_body == 4096);  // the HTTP body limit follows --max-frame
    CHECK(o.backlog == 16);
    CHECK(o.stats_file == "/tmp/x.json");
    CHECK(o.fail_setsockopt_every == 5);
}

TEST_CASE("defaults match the documented ones", "[unit][options]") {
    pb::ServerOptions o;
    REQUIRE(parse({}, o) == 0);
    CHECK(o.host == "127.0.0.1");
    CHECK(o.port == 0);
    CHECK(o.protocol == pb::Protocol::kFrame);
    CHECK(o.nodelay);
    CHECK(o.backlog == 4096);
    CHECK(o.max_frame == 1u << 20);
    CHECK(o.threads == pb::available_cpus());
    CHECK(o.fail_setsockopt_every == 0);  // fault injection is off unless asked
}

TEST_CASE("bad flag values are rejected, not ignored", "[unit][options]") {
    for (std::vector<std::string> bad :
         std::vector<std::vector<std::string>>{{"--protocol", "gopher"},
                                               {"--nodelay", "maybe"},
                                               {"--idle-timeout", "soon"},
                                               {"--port", "70000"},
                                               {"--threads", "0"},
                                               {"--backlog", "0"},
                                               {"--no-such-flag"}}) {
        INFO(bad[0]);
        pb::ServerOptions o;
        CHECK(parse(bad, o) != 0);
    }
}

TEST_CASE("fastopen flag: the listener's TFO queue, off by default", "[unit][options]") {
    pb::ServerOptions o;
    REQUIRE(parse({}, o) == 0);
    CHECK(o.fastopen == 0);
    REQUIRE(parse({"--fastopen", "256"}, o) == 0);
    CHECK(o.fastopen == 256);
    pb::ServerOptions bad;
    CHECK(parse({"--fastopen", "-1"}, bad) != 0);
}
