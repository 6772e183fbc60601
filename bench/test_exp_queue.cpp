// The "queue" experiment (bench/exp_queue.cpp) at small scale: SIGTERM loses
// none of the requests in flight when it comes, SIGKILL's figures add up
// (lost = sent - verified = in flight + sent after), pipelined replies come
// back in order, and a queue of 4 never holds more than 4.
#include <chrono>

#include "exp_test_support.hpp"

namespace pb::bench {
namespace {

using namespace std::chrono_literals;
using exptest::counter;

CaseSpec shortened(const std::string& variant) {
    CaseSpec c = exptest::claims_case(
        [&](const CaseSpec& s) { return s.experiment == "queue" && s.variant == variant; });
    c.warmup = 50ms;
    c.duration = 300ms;
    return c;
}

Outcome run(const CaseSpec& spec) {
    Outcome o = run_case(spec, exptest::runner_options());
    INFO(spec.name() << ": " << o.error << o.warning);
    REQUIRE(o.ok);
    return o;
}

}  // namespace

TEST_CASE("queue: the cases and their budget", "[experiments]") {
    double planned = 0;
    int loss = 0;
    for (const auto& c : claims_cases()) {
        if (c.experiment != "queue") continue;
        planned += c.planned_seconds();
        CHECK(c.protocol == "frame");  // reorders and duplicates need ids
        loss += c.variant.rfind("sig", 0) == 0;
    }
    CHECK(loss == 3);
    CHECK(planned * 3 < 60);
}

TEST_CASE("queue: SIGTERM loses no request in flight, SIGKILL's figures add up", "[experiments]") {
    Outcome term = run(shortened("sigterm"));
    CHECK(counter(term, "lost_in_flight") == 0);
    CHECK(counter(term, "sent") > 0);
    CHECK(counter(term, "duplicates") == 0);

    Outcome kill = run(shortened("sigkill"));
    const double lost = counter(kill, "lost");
    CHECK(lost == counter(kill, "sent") - counter(kill, "verified"));
    CHECK(lost == counter(kill, "lost_in_flight") + counter(kill, "lost_after_signal") +
                      counter(kill, "lost_unplaced"));
    CHECK(counter(kill, "lost_in_flight") >= 0);
    CHECK(counter(kill, "lost_unplaced") == 0);
    // The server died half-way: its connections failed, and reconnects were refused.
    CHECK(counter(kill, "errors") > 0);
    CHECK(counter(kill, "connect_errors") > 0);
    CHECK(counter(kill, "duplicates") == 0);
    REQUIRE(kill.document.find("experiment"));
    CHECK(kill.document.at("experiment").at("signal_name").as_string() == "SIGKILL");
}

TEST_CASE("queue: pipelined replies come back in order, a queue of 4 holds 4", "[experiments]") {
    Outcome p = run(shortened("pipeline8"));
    CHECK(counter(p, "reorders") == 0);
    CHECK(counter(p, "errors") == 0);
    CHECK(counter(p, "rps") > 0);

    Outcome small = run(shortened("depth4"));
    CHECK(counter(small, "queue_high_water") <= 4);
    CHECK(counter(small, "queue_high_water") >= 1);
    CHECK(counter(small, "errors") == 0);
}

}  // namespace pb::bench
