// What the claims experiments' tests (bench/test_exp_*.cpp) share: the
// placement make bench uses, a counter by name, a case of the claims profile.
#pragma once

#include <unistd.h>

#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <string>

#include "case_runner.hpp"
#include "cases.hpp"
#include "experiments.hpp"

namespace pb::bench::exptest {

// Server on the last CPU, harness and generator on the first, as make bench does.
inline RunnerOptions runner_options() {
    RunnerOptions o;
    o.server_dir = PB_SERVER_DIR;
    o.pingpong_bin = PB_PINGPONG_BIN;
    long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    o.placement.client_cpus = {0};
    o.placement.server_cpus = {n > 1 ? static_cast<int>(n - 1) : 0};
    return o;
}

inline double counter(const Outcome& o, const std::string& name) {
    for (const auto& [k, v] : o.counters)
        if (k == name) return v;
    return NAN;
}

// The first case of the claims profile that `pick` accepts (a test then
// shortens it); fails the test when there is none.
inline CaseSpec claims_case(const std::function<bool(const CaseSpec&)>& pick) {
    for (const auto& c : claims_cases())
        if (pick(c)) return c;
    FAIL("no such case in the claims profile");
    return {};
}

}  // namespace pb::bench::exptest
