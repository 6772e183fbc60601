// The "connection" claims experiment at small scale: the churn side records a
// connect and a first byte for every request, the keep-alive side none.
#include <catch2/catch.hpp>

#include "exp_test_support.hpp"

using namespace pb::bench;
using namespace pb::bench::exptest;
using namespace std::chrono_literals;

namespace {

CaseSpec connection_case(const std::string& workload) {
    CaseSpec c = claims_case([&](const CaseSpec& s) {
        return s.experiment == "connection" && s.pattern == "single" && s.workload == workload &&
               s.connections == 1;
    });
    c.warmup = 50ms;
    c.duration = 300ms;
    return c;
}

}  // namespace

TEST_CASE("connection: churn times a connect and a first byte per request, keep-alive none",
          "[experiments]") {
    Outcome churn = run_case(connection_case("churn"), runner_options());
    REQUIRE(churn.ok);
    const pb::loadgen::Json& exp = churn.document.at("experiment");
    const double requests = churn.document.at("loadgen").at("requests").as_double();
    INFO("requests " << requests);
    REQUIRE(requests > 0);
    // Every measured request had a connection of its own.
    CHECK(exp.at("connects").as_double() >= 0.9 * requests);
    CHECK(counter(churn, "connect_p50_us") > 0);
    // The first reply byte comes after the connection is established.
    CHECK(counter(churn, "first_byte_p50_us") >= counter(churn, "connect_p50_us"));
    CHECK(counter(churn, "errors") == 0);

    Outcome keep = run_case(connection_case("tiny"), runner_options());
    REQUIRE(keep.ok);
    CHECK(std::isnan(counter(keep, "connect_p50_us")));
    CHECK(counter(keep, "cpu_us_per_req") > 0);
}
