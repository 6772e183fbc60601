// The "nagle-size" claims experiment at small scale, across its two network
// namespaces: with Nagle, 20-byte writes leave in segments of many writes;
// with TCP_NODELAY, one segment per write; with the ACKs held back, Nagle's
// segments reach the MSS. Skipped, with the reason printed, where namespaces
// cannot be made (not root, no ip(8)).
#include <dirent.h>
#include <unistd.h>

#include <fmt/format.h>

#include <catch2/catch.hpp>

#include "exp_test_support.hpp"

using namespace pb::bench;
using namespace pb::bench::exptest;
using namespace std::chrono_literals;

namespace {

CaseSpec nagle_size_case(const std::string& variant) {
    CaseSpec c = claims_case(
        [&](const CaseSpec& s) { return s.experiment == "nagle-size" && s.variant == variant; });
    c.warmup = 100ms;
    c.duration = 300ms;
    return c;
}

// The skip reason of a case that could not make its namespaces, or "".
std::string skipped(const Outcome& o) {
    const pb::loadgen::Json* exp = o.document.find("experiment");
    const pb::loadgen::Json* why = exp ? exp->find("skipped") : nullptr;
    return why ? why->as_string() : "";
}

// Namespaces this process made and did not delete.
int leftover_namespaces() {
    const std::string mine = fmt::format("-{}-", ::getpid());
    int n = 0;
    if (DIR* d = ::opendir("/run/netns")) {
        while (dirent* e = ::readdir(d)) {
            std::string name = e->d_name;
            if (name.rfind("pbexp-", 0) == 0 && name.find(mine) != std::string::npos) ++n;
        }
        ::closedir(d);
    }
    return n;
}

}  // namespace

TEST_CASE("nagle-size: Nagle coalesces 20-byte writes, TCP_NODELAY sends one segment each",
          "[experiments]") {
    Outcome nagle = run_case(nagle_size_case("fast-w20-nagle"), runner_options());
    REQUIRE(nagle.ok);
    if (std::string why = skipped(nagle); !why.empty()) {
        WARN("skipped: " << why);
        return;
    }
    Outcome nodelay = run_case(nagle_size_case("fast-w20-nodelay"), runner_options());
    REQUIRE(nodelay.ok);
    const double nagle_bytes = counter(nagle, "bytes_per_seg");
    const double nodelay_bytes = counter(nodelay, "bytes_per_seg");
    INFO("bytes per segment: Nagle " << nagle_bytes << ", NODELAY " << nodelay_bytes);
    CHECK(counter(nagle, "errors") == 0);
    CHECK(counter(nodelay, "errors") == 0);
    // Several writes per segment with Nagle, a segment per write without.
    CHECK(nagle_bytes > 2 * nodelay_bytes);
    CHECK(counter(nodelay, "segs_per_write") == Approx(1.0).margin(0.1));
    CHECK(nagle.document.at("experiment").at("mss").as_int() < 1500);
    CHECK(leftover_namespaces() == 0);
}

TEST_CASE("nagle-size: with the ACKs held back, Nagle's segments reach the MSS", "[experiments]") {
    Outcome slow = run_case(nagle_size_case("slowack-w500-nagle"), runner_options());
    REQUIRE(slow.ok);
    if (std::string why = skipped(slow); !why.empty()) {
        WARN("skipped: " << why);
        return;
    }
    const double mss = slow.document.at("experiment").at("mss").as_double();
    INFO("bytes per segment " << counter(slow, "bytes_per_seg") << ", MSS " << mss);
    CHECK(counter(slow, "bytes_per_seg") > 0.85 * mss);
    CHECK(leftover_namespaces() == 0);
}
