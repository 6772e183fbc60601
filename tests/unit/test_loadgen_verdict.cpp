// The loadgen record's judgement: Result::verdict() on constructed results
// (loadgen_results.hpp), each kind and the precedence between them.
#include <catch2/catch.hpp>

#include <string>

#include "loadgen_results.hpp"
#include "result.hpp"

namespace lg = pb::loadgen;
using namespace pbtest::loadgen_results;

TEST_CASE("verdict: ok, closed and open loop", "[loadgen][verdict]") {
    for (const lg::Result& r : {closed_loop(), open_loop()}) {
        auto v = r.verdict();
        CHECK(v.kind == lg::VerdictKind::kOk);
        CHECK(v.ok());
        CHECK(v.reason.empty());
        CHECK_FALSE(r.could_not_keep_up());
        CHECK_FALSE(r.generator_bound());
        auto j = lg::to_json_value(r);
        CHECK(j.at("verdict").at("kind").as_string() == "ok");
        CHECK_FALSE(j.at("generator").at("bound").as_bool());
        CHECK(lg::format_summary(r).find("Verdict: ok") != std::string::npos);
    }
}

TEST_CASE("verdict: generator-busy in either loop, above 90%", "[loadgen][verdict]") {
    for (lg::Result r : {closed_loop(), open_loop()}) {
        make_busy(r);
        auto v = r.verdict();
        CHECK(v.kind == lg::VerdictKind::kGeneratorBusy);
        CHECK(v.reason.find("busy 93%") != std::string::npos);
        CHECK(r.generator_bound());
        auto j = lg::to_json_value(r);
        CHECK(j.at("verdict").at("kind").as_string() == "generator-busy");
        CHECK(j.at("generator").at("bound").as_bool());
        CHECK(lg::format_summary(r).find("Verdict: generator-busy") != std::string::npos);
        // could_not_keep_up() is about following a plan: closed loops have none.
        CHECK(r.could_not_keep_up() == r.open_loop());
    }
    lg::Result at_bound = closed_loop();
    at_bound.stats.max_thread_busy = 0.90;  // "over 0.90": exactly 0.90 is not bound
    CHECK(at_bound.verdict().ok());
}

TEST_CASE("verdict: generator-late and server-saturated are open-loop only", "[loadgen][verdict]") {
    lg::Result late = open_loop();
    make_late(late);
    CHECK(late.verdict().kind == lg::VerdictKind::kGeneratorLate);
    CHECK(late.verdict().reason.find("lateness") != std::string::npos);
    std::string reason;
    CHECK(late.could_not_keep_up(&reason));
    CHECK(reason == late.verdict().reason);
    CHECK(lg::to_json_value(late).at("verdict").at("kind").as_string() == "generator-late");

    lg::Result saturated = open_loop();
    make_short(saturated);
    CHECK(saturated.verdict().kind == lg::VerdictKind::kServerSaturated);
    CHECK(saturated.verdict().reason.find("achieved 900 req/s") != std::string::npos);
    CHECK(lg::to_json_value(saturated).at("verdict").at("kind").as_string() == "server-saturated");
    CHECK(lg::format_summary(saturated).find("Verdict: server-saturated") != std::string::npos);

    // The same lateness and shortfall figures mean nothing without a plan.
    lg::Result closed = closed_loop();
    make_late(closed);
    make_short(closed);
    CHECK(closed.verdict().ok());

    CHECK(std::string(lg::to_string(lg::VerdictKind::kOk)) == "ok");
    CHECK(static_cast<int>(lg::VerdictKind::kServerSaturated) == 1);
    CHECK(static_cast<int>(lg::VerdictKind::kGeneratorLate) == 2);
    CHECK(static_cast<int>(lg::VerdictKind::kGeneratorBusy) == 3);
}

TEST_CASE("verdict precedence: busy, then late, then saturated", "[loadgen][verdict]") {
    lg::Result all = open_loop();
    make_busy(all);
    make_late(all);
    make_short(all);
    auto v = all.verdict();
    CHECK(v.kind == lg::VerdictKind::kGeneratorBusy);
    // The others follow in the reason, in precedence order.
    auto busy = v.reason.find("busy");
    auto late = v.reason.find("lateness");
    auto achieved = v.reason.find("achieved");
    REQUIRE(busy != std::string::npos);
    REQUIRE(late != std::string::npos);
    REQUIRE(achieved != std::string::npos);
    CHECK(busy < late);
    CHECK(late < achieved);

    lg::Result late_and_short = open_loop();
    make_late(late_and_short);
    make_short(late_and_short);
    CHECK(late_and_short.verdict().kind == lg::VerdictKind::kGeneratorLate);

    lg::Result busy_and_short = open_loop();
    make_busy(busy_and_short);
    make_short(busy_and_short);
    CHECK(busy_and_short.verdict().kind == lg::VerdictKind::kGeneratorBusy);
}
