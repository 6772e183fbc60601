// The "shard" experiment (bench/exp_shard.cpp) at small scale: with one of two
// reuseport shards killed, new connections are served again within a second
// and no request is answered twice; without the kill, both shards serve.
#include <chrono>
#include <cmath>

#include "exp_test_support.hpp"

namespace pb::bench {
namespace {

using namespace std::chrono_literals;
using exptest::counter;

CaseSpec shortened(const std::string& variant) {
    CaseSpec c = exptest::claims_case(
        [&](const CaseSpec& s) { return s.experiment == "shard" && s.variant == variant; });
    c.warmup = 50ms;
    c.duration = 400ms;
    return c;
}

Outcome run(const CaseSpec& spec) {
    Outcome o = run_case(spec, exptest::runner_options());
    INFO(spec.name() << ": " << o.error << o.warning);
    REQUIRE(o.ok);
    return o;
}

}  // namespace

TEST_CASE("shard: after one shard is killed, new connections succeed within 1 s", "[experiments]") {
    Outcome o = run(shortened("kill"));
    CHECK(counter(o, "probes_after_kill") > 0);
    CHECK(counter(o, "recovery_ms") < 1000);  // NaN (never recovered) fails too
    CHECK(counter(o, "duplicates") == 0);
    CHECK(counter(o, "survivor_requests") > 0);
    CHECK(counter(o, "verified") > 0);
    CHECK(std::isnan(counter(o, "killed_requests")));  // SIGKILL: no stats file
    REQUIRE(o.document.find("experiment"));
    CHECK(o.document.at("experiment").at("second_shard_exit_status").as_int() == 128 + 9);
}

TEST_CASE("shard: without the kill both shards serve, with no errors", "[experiments]") {
    Outcome o = run(shortened("control"));
    CHECK(counter(o, "errors") == 0);
    CHECK(counter(o, "survivor_requests") > 0);
    CHECK(counter(o, "killed_requests") > 0);
    CHECK(counter(o, "lost") == 0);
    CHECK(counter(o, "probe_failures_before_kill") == 0);
}

}  // namespace pb::bench
