// The "accept" experiment (bench/exp_accept.cpp) at small scale: its cases are
// the planned grid under churn, every line accepts without errors and counts
// what it claims to, and herd mode wakes more loops per accept than exclusive.
#include <unistd.h>

#include <chrono>
#include <set>

#include "exp_test_support.hpp"

namespace pb::bench {
namespace {

using namespace std::chrono_literals;

std::vector<CaseSpec> accept_cases() {
    std::vector<CaseSpec> out;
    for (const auto& c : claims_cases())
        if (c.experiment == "accept") out.push_back(c);
    return out;
}

CaseSpec shortened(const std::string& pattern, const std::string& variant) {
    CaseSpec c = exptest::claims_case([&](const CaseSpec& s) {
        return s.experiment == "accept" && s.pattern == pattern && s.variant == variant;
    });
    c.warmup = 50ms;
    c.duration = 250ms;
    return c;
}

Outcome run(const CaseSpec& spec, const RunnerOptions& options) {
    Outcome o = run_case(spec, options);
    INFO(spec.name() << ": " << o.error << o.warning);
    REQUIRE(o.ok);
    return o;
}

}  // namespace

TEST_CASE("accept: every line at every thread count, under churn, within budget", "[experiments]") {
    const auto cases = accept_cases();
    std::set<std::string> lines;
    std::set<unsigned> threads;
    double planned = 0;
    for (const auto& c : cases) {
        CHECK(c.workload == "churn");
        CHECK(c.loadgen_config().connect_per_request);
        REQUIRE(c.threads > 0);
        // Each client has one connection waiting at most: as many clients as
        // the most acceptors, or the high thread counts could not contend.
        CHECK(c.connections >= 32);
        const std::string line = c.pattern + "/" + c.variant.substr(0, c.variant.rfind('-'));
        lines.insert(line);
        threads.insert(c.threads);
        if (c.pattern == "multi-accept") {
            REQUIRE(c.server_args.size() == 2);
            CHECK(c.server_args[0] == "--accept-mode");
            CHECK(line == "multi-accept/" + c.server_args[1]);
        }
        planned += 3 * c.planned_seconds();
    }
    CHECK(lines == std::set<std::string>{"multi-accept/exclusive", "multi-accept/herd",
                                         "multi-accept/blocking", "reuseport/sharded",
                                         "reactor-pool/one-acceptor"});
    CHECK(threads.count(1) == 1);
    CHECK(threads.count(32) == 1);
    CHECK(cases.size() == lines.size() * threads.size());
    CHECK(planned <= 150);
}

TEST_CASE("accept: each line accepts, counts its accepts and has no errors", "[experiments]") {
    const auto options = exptest::runner_options();
    for (const auto& [pattern, variant] :
         std::vector<std::pair<std::string, std::string>>{{"multi-accept", "exclusive-t2"},
                                                          {"multi-accept", "herd-t2"},
                                                          {"multi-accept", "blocking-t2"},
                                                          {"reuseport", "sharded-t2"},
                                                          {"reactor-pool", "one-acceptor-t2"}}) {
        const CaseSpec spec = shortened(pattern, variant);
        const Outcome o = run(spec, options);
        INFO(spec.name() << ": " << o.warning);
        CHECK(exptest::counter(o, "errors") == 0);
        const double accepts = exptest::counter(o, "accepts_per_s");
        const double rps = exptest::counter(o, "rps");
        REQUIRE(accepts > 0);
        // One connection per request: the server's own accept count and the
        // client's request rate are the same churn seen from either end.
        CHECK(accepts == Approx(rps).epsilon(0.25));
        CHECK(exptest::counter(o, "connect_p99_us") > 0);
        CHECK(exptest::counter(o, "vcsw_per_accept") > 0);
        const double futile = exptest::counter(o, "futile_per_accept");
        REQUIRE(futile >= 0);
        // A futile wake-up needs two threads waiting on one listener: blocking
        // accept() never returns EAGAIN, and reuseport's and reactor-pool's
        // listeners each have one waiter.
        if (pattern != "multi-accept" || variant == "blocking-t2") CHECK(futile == 0);
        const auto& e = o.document.at("experiment");
        CHECK(e.at("accepts_source").as_string() == "server window");
        CHECK(e.at("acceptors").as_int() == (pattern == "reactor-pool" ? 1 : 2));
    }
}

// Herd mode wakes every waiting loop for each connection. Those that reach
// accept() after another loop took it are futile wake-ups; those the kernel
// turns back (the listener re-checked before epoll_wait() returns) sleep again
// and show only as context switches. The server gets every CPU here, so loops
// can race to accept(); three runs of each mode are pooled against the noise.
TEST_CASE("accept: herd wakes more loops per accept than exclusive at 8 threads", "[experiments]") {
    auto options = exptest::runner_options();
    options.placement.server_cpus.clear();
    for (long i = 0; i < ::sysconf(_SC_NPROCESSORS_ONLN); ++i)
        options.placement.server_cpus.push_back(static_cast<int>(i));
    constexpr int kRuns = 3;
    auto wakeups = [&](const std::string& variant, double& futile) {
        double sum = 0;
        futile = 0;
        for (int i = 0; i < kRuns; ++i) {
            const Outcome o = run(shortened("multi-accept", variant), options);
            CHECK(exptest::counter(o, "errors") == 0);
            const double f = exptest::counter(o, "futile_per_accept");
            const double v = exptest::counter(o, "vcsw_per_accept");
            REQUIRE(f >= 0);
            REQUIRE(v > 0);
            futile += f / kRuns;
            sum += (f + v) / kRuns;
        }
        return sum;
    };
    double futile_herd = 0, futile_exclusive = 0;
    const double herd = wakeups("herd-t8", futile_herd);
    const double exclusive = wakeups("exclusive-t8", futile_exclusive);
    INFO("wake-ups per accept: herd " << herd << " (futile " << futile_herd << "), exclusive "
                                      << exclusive << " (futile " << futile_exclusive << ")");
    CHECK(herd > exclusive);
    // The futile part alone is not asserted: with the CPUs shared, the loop that
    // wins has often drained the queue before a loser runs, and the kernel's
    // re-check hides the loser; about one run in six here had herd's futile
    // figure under exclusive's, while the sum above held in every run.
    WARN("wake-ups per accept: herd " << herd << " (futile " << futile_herd << "), exclusive "
                                      << exclusive << " (futile " << futile_exclusive << ")");
}

}  // namespace pb::bench
