// Unit tests of the harness's pure parts: CPU lists, fairness figures, case
// names (the results contract) and the time budget of every profile.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <cmath>
#include <set>

#include "case_runner.hpp"
#include "cases.hpp"
#include "server_child.hpp"

namespace pbb = pb::bench;

TEST_CASE("CPU lists parse and print", "[bench]") {
    CHECK(pbb::parse_cpu_list("1") == std::vector<int>{1});
    CHECK(pbb::parse_cpu_list("0-2,5") == std::vector<int>{0, 1, 2, 5});
    CHECK(pbb::format_cpu_list({0, 1, 2, 5, 7, 8}) == "0-2,5,7-8");
    CHECK_THROWS(pbb::parse_cpu_list(""));
    CHECK_THROWS(pbb::parse_cpu_list("1-"));
    CHECK_THROWS(pbb::parse_cpu_list("2-1"));
    CHECK_THROWS(pbb::parse_cpu_list("x"));
}

TEST_CASE("Jain's index and max/min", "[bench]") {
    CHECK(pbb::jain_index({5, 5, 5, 5}) == Approx(1.0));
    CHECK(pbb::jain_index({8, 0, 0, 0}) == Approx(0.25));
    CHECK(pbb::jain_index({3, 1}) == Approx(16.0 / 20.0));
    CHECK(std::isnan(pbb::jain_index({})));
    CHECK(std::isnan(pbb::jain_index({0, 0})));
    CHECK(pbb::max_min_ratio({2, 6}) == Approx(3.0));
    CHECK(std::isinf(pbb::max_min_ratio({0, 6})));
    CHECK(std::isnan(pbb::max_min_ratio({0, 0})));
}

TEST_CASE("case names are unique and keep the contract's shape", "[bench]") {
    for (const auto& profile : pbb::profile_names()) {
        auto cases = pbb::profile_cases(profile, {});
        std::set<std::string> names, ids;
        for (const auto& c : cases) {
            INFO(c.name());
            CHECK(names.insert(c.name()).second);
            CHECK(ids.insert(c.id()).second);
            CHECK(c.id().find('/') == std::string::npos);
            CHECK(c.name().rfind(pbb::to_string(c.kind), 0) == 0);
        }
    }
    pbb::CaseSpec c;
    c.pattern = "single";
    c.protocol = "frame";
    c.workload = "tiny";
    c.connections = 64;
    CHECK(c.name() == "matrix/single/frame/tiny/c64");
    CHECK(c.id() == "matrix-single-frame-tiny-c64");
    c.kind = pbb::Kind::kNagle;
    c.client_nodelay = false;
    c.write_mode = pb::loadgen::WriteMode::kSplit;
    CHECK(c.name() == "nagle/single/frame/c_nodelay=off/s_nodelay=on/split/quickack=off");
    CHECK(c.id() == "nagle-coff-son-split-qaoff");
}

TEST_CASE("profiles fit their time budgets", "[bench]") {
    // Planned time (warm-up + window + measured start/stop overhead); the issue's
    // budgets leave room for the report and for past-the-knee sweep drains.
    auto planned = [](const std::string& profile) {
        double s = 0;
        for (const auto& c : pbb::profile_cases(profile, {})) s += c.planned_seconds();
        return s;
    };
    CHECK(planned("quick") <= 60);
    CHECK(planned("default") <= 480);
    CHECK(planned("nagle") <= 240);
    auto quick = pbb::profile_cases("quick", {});
    std::set<std::string> patterns;
    for (const auto& c : quick)
        if (c.kind == pbb::Kind::kMatrix) patterns.insert(c.pattern);
    CHECK(patterns.size() == 6);
}

TEST_CASE("the Nagle matrix is complete and long enough", "[bench]") {
    auto cases = pbb::profile_cases("nagle", {});
    int cells = 0;
    for (const auto& c : cases) {
        if (c.kind != pbb::Kind::kNagle) continue;
        ++cells;
        auto cfg = c.loadgen_config();
        CHECK(cfg.request_size + 32 == 110);
        CHECK(cfg.reply_bytes() + 16 == 50);
        if (c.write_mode != pb::loadgen::WriteMode::kSingle) CHECK(cfg.split_at == 10);
        // At least 200 exchanges even when every one stalls ~45 ms.
        double seconds = std::chrono::duration<double>(c.duration).count();
        CHECK(seconds * c.connections / 0.045 >= 200);
    }
    CHECK(cells == 32);
}
