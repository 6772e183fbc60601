// The "fastopen" claims experiment at small scale, in its own network
// namespaces: with TFO on both ends the server's namespace counts connections
// whose SYN carried the request (TCPFastOpenPassive), with it off none.
// Skipped, with the reason printed, where namespaces cannot be made.
#include <catch2/catch.hpp>

#include "exp_test_support.hpp"

using namespace pb::bench;
using namespace pb::bench::exptest;
using namespace std::chrono_literals;

namespace {

CaseSpec fastopen_case(const std::string& variant) {
    CaseSpec c = claims_case([&](const CaseSpec& s) {
        return s.experiment == "fastopen" && s.variant == variant && s.connections == 1;
    });
    c.warmup = 100ms;
    c.duration = 300ms;
    return c;
}

std::string skipped(const Outcome& o) {
    const pb::loadgen::Json* exp = o.document.find("experiment");
    const pb::loadgen::Json* why = exp ? exp->find("skipped") : nullptr;
    return why ? why->as_string() : "";
}

}  // namespace

TEST_CASE("fastopen: TFO on fills TCPFastOpenPassive, TFO off leaves it at 0", "[experiments]") {
    Outcome on = run_case(fastopen_case("tfo-on"), runner_options());
    REQUIRE(on.ok);
    if (std::string why = skipped(on); !why.empty()) {
        WARN("skipped: " << why);
        return;
    }
    Outcome off = run_case(fastopen_case("tfo-off"), runner_options());
    REQUIRE(off.ok);
    const double requests = on.document.at("loadgen").at("requests").as_double();
    INFO("requests " << requests << ", passive " << counter(on, "tfo_passive") << ", active "
                     << counter(on, "tfo_active"));
    REQUIRE(requests > 0);
    CHECK(counter(on, "errors") == 0);
    CHECK(counter(on, "tfo_passive") > 0);
    CHECK(counter(on, "tfo_active") > 0);
    // The warm-up fetched the cookie: most of the window's connections used it.
    CHECK(counter(on, "tfo_passive") > 0.5 * requests);
    CHECK(counter(off, "tfo_passive") == 0);
    CHECK(counter(off, "tfo_active") == 0);
    CHECK(counter(off, "first_byte_p50_us") > 0);
}
