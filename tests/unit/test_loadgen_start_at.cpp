// --start-at and the record's window_start (added within schema 3): the option's
// parsing and refusals, the JSON round trip, a record without them, and the
// merge keeping the earliest window start.
#include <catch2/catch.hpp>

#include <string>

#include "loadgen.hpp"
#include "loadgen_results.hpp"

namespace lg = pb::loadgen;
using namespace pbtest::loadgen_results;

TEST_CASE("start-at option takes wall-clock seconds with a fraction", "[loadgen]") {
    auto c = lg::parse_args({"127.0.0.1:9000", "--start-at", "1764662400.25"});
    REQUIRE(c.start_at.has_value());
    CHECK(*c.start_at == 1764662400.25);
    CHECK_FALSE(lg::parse_args({"127.0.0.1:9000"}).start_at.has_value());
    CHECK_THROWS_AS(lg::parse_args({"127.0.0.1:9000", "--start-at", "soon"}), lg::ArgsError);
    CHECK_THROWS_AS(lg::parse_args({"127.0.0.1:9000", "--start-at", "12s"}), lg::ArgsError);
    CHECK_THROWS_AS(lg::parse_args({"127.0.0.1:9000", "--start-at", "-5"}), lg::ArgsError);
    CHECK_THROWS_AS(lg::parse_args({"127.0.0.1:9000", "--start-at", "inf"}), lg::ArgsError);
}

TEST_CASE("window_start and config.start_at round-trip, and merge keeps the earliest",
          "[loadgen][json]") {
    lg::Result a = closed_loop();
    a.config.start_at = 1764662400.25;
    a.window_start = 1764662400.251234;
    std::string text = lg::to_json(a);
    lg::Result back = lg::from_json(text);
    REQUIRE(back.window_start.has_value());
    CHECK(*back.window_start == 1764662400.251234);
    REQUIRE(back.config.start_at.has_value());
    CHECK(*back.config.start_at == 1764662400.25);
    CHECK(lg::to_json(back) == text);
    auto j = lg::to_json_value(a);
    CHECK(j.at("schema_version").as_int() == 3);
    CHECK(j.at("window_start").as_double() == 1764662400.251234);

    // A record written before the fields existed (or a run without --start-at)
    // has null, and reads back unset.
    lg::Result plain = closed_loop();
    auto pj = lg::to_json_value(plain);
    CHECK(pj.at("window_start").is_null());
    CHECK(pj.at("config").at("start_at").is_null());
    lg::Result plain_back = lg::from_json(lg::to_json(plain));
    CHECK_FALSE(plain_back.window_start.has_value());
    CHECK_FALSE(plain_back.config.start_at.has_value());

    lg::Result b = closed_loop();
    b.window_start = 1764662400.249;
    CHECK(*lg::merge({a, b}).window_start == 1764662400.249);
    CHECK(*lg::merge({a, plain}).window_start == 1764662400.251234);
    CHECK_FALSE(lg::merge({plain, plain_back}).window_start.has_value());
}
