// The load generator's JSON record of real runs: it round-trips through
// to_json/from_json unchanged, and two runs merge exactly (counts, histograms,
// the target rate) into a record with every percentile key.
#include <catch2/catch.hpp>

#include "loadgen.hpp"
#include "loadgen_test_support.hpp"
#include "server_process.hpp"

using namespace std::chrono_literals;
namespace lg = pb::loadgen;
using namespace pbtest::loadgen_test;

TEST_CASE("the JSON record round-trips and merges exactly", "[integration][loadgen]") {
    pbtest::ServerProcess server("server-single", {"--protocol", "frame"});
    auto a = run_loadgen(server.port(), {"-c", "2", "-d", "300ms", "-R", "500"});
    auto b = run_loadgen(server.port(), {"-c", "2", "-d", "300ms", "-R", "500"});
    auto a_back = lg::from_json(lg::to_json(a));
    CHECK(lg::to_json(a_back) == lg::to_json(a));

    auto m = lg::merge({a_back, lg::from_json(lg::to_json(b))});
    CHECK(m.runs == 2);
    CHECK(m.stats.requests == a.stats.requests + b.stats.requests);
    CHECK(m.stats.latency.count() == a.stats.latency.count() + b.stats.latency.count());
    CHECK(m.target_rps == 1000.0);
    lg::Histogram both = a.stats.latency;
    both.add(b.stats.latency);
    CHECK(m.stats.latency.value_at_percentile(99) == both.value_at_percentile(99));
    CHECK(m.stats.latency.max() == both.max());

    auto j = lg::to_json_value(m);
    CHECK(j.at("schema").as_string() == "patternbench-loadgen");
    CHECK(j.at("schema_version").as_int() == 3);
    CHECK(j.at("latency_us").at("histogram").at("unit").as_string() == "ns");
    CHECK(j.at("latency_us").at("p99").as_double() == lg::ns_to_us(both.value_at_percentile(99)));
    for (const char* key :
         {"p50", "p90", "p99", "p99.9", "p99.99", "p99.999", "max", "mean", "stdev"}) {
        CHECK(j.at("latency_us").find(key));
        CHECK(j.at("uncorrected_latency_us").find(key));
    }
    CHECK(j.at("errors").at("verify").as_int() == 0);
    pbtest::stop_cleanly(server);
}
