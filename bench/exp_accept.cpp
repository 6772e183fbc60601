// Claims experiment "accept" (M2, M5): accept contention, after libuv's
// benchmark-multi-accept. Every client opens a connection per request
// (workload "churn"), so the server's work is accepting; the cases vary how
// many threads accept and how they share the listener:
//   - server-multi-accept, one listener shared by N loops, in each
//     --accept-mode: exclusive (EPOLLEXCLUSIVE wakes one loop), herd (every
//     waiting loop wakes for each connection) and blocking (N threads asleep
//     in accept(), each feeding its own loop: 2N threads);
//   - server-reuseport, N listeners on one port (no shared accept queue): what
//     N acceptors give when they do not contend;
//   - server-reactor-pool, whose --threads is its reader loops: it always has
//     one acceptor, so its line is the single-acceptor control at each N.
// Per case: accepts/s (the server's own accept count over the window), the
// clients' connect() p99, the server's voluntary context switches per accept
// and its futile wake-ups (woken for a connection another thread took) per
// accept. Futile wake-ups are not in the SIGUSR1 snapshots, so they come from
// the stats file: the server's lifetime (warm-up, window and drain, all under
// the same churn) over its lifetime accepts.
#include <fmt/format.h>

#include <array>
#include <chrono>
#include <cmath>
#include <string>

#include "case_steps.hpp"
#include "experiments.hpp"

namespace pb::bench {

namespace {

namespace lg = pb::loadgen;
using lg::Json;

constexpr auto kModes = std::to_array<const char*>({"exclusive", "herd", "blocking"});
// Powers of two up to 16x the one CPU the server has under make bench: 16 and
// 32 are where M5's "too many acceptors" should show, if anywhere.
constexpr auto kThreads = std::to_array<unsigned>({1, 2, 4, 8, 16, 32});
// Under churn each client has at most one connection waiting to be accepted,
// so the accept queue never holds more than this: 32 lets each of 32 acceptors
// find one, and is still a load one generator CPU drives without falling behind.
constexpr int kConnections = 32;
// Accepting is all a churn case does, ~10^4 a second here: a 300 ms window
// holds thousands of accepts, so 90 runs (30 cases x 3) plan under a minute.
constexpr auto kWarmup = std::chrono::milliseconds(100);
constexpr auto kDuration = std::chrono::milliseconds(300);

CaseSpec accept_case(const std::string& pattern, const std::string& mode, unsigned threads) {
    CaseSpec c;
    c.pattern = pattern;
    c.protocol = "frame";
    c.workload = "churn";
    c.connections = kConnections;
    c.warmup = kWarmup;
    c.duration = kDuration;
    c.threads = threads;
    c.variant = fmt::format("{}-t{}", mode, threads);
    if (pattern == "multi-accept") c.server_args = {"--accept-mode", mode};
    return c;
}

std::vector<CaseSpec> accept_cases() {
    std::vector<CaseSpec> out;
    for (const char* mode : kModes)
        for (unsigned t : kThreads) out.push_back(accept_case("multi-accept", mode, t));
    // The lines to hold multi-accept against: "sharded" (reuseport's own
    // listeners) and "one-acceptor" (reactor-pool: N loops, one acceptor).
    for (unsigned t : kThreads) out.push_back(accept_case("reuseport", "sharded", t));
    for (unsigned t : kThreads) out.push_back(accept_case("reactor-pool", "one-acceptor", t));
    return out;
}

double number_at(const Json& obj, const char* key) {
    const Json* v = obj.is_object() ? obj.find(key) : nullptr;
    return v && v->is_number() ? v->as_double() : NAN;
}

// Sets `key` in the document and, under `counter` (when given), among the
// counters; a figure that could not be had is null in one and absent in the other.
void put(Json& experiment, Counters& counters, const char* key, double v,
         const char* counter = nullptr) {
    experiment.set(key, std::isfinite(v) ? Json(v) : Json());
    if (counter && std::isfinite(v)) counters.emplace_back(counter, v);
}

// The server's accepts over the window; without its snapshots, the client's
// completed requests stand in (one connection each) and the document says so.
void put_accepts(const Measured& m, const Accounted& a, Counters& c, Json& e) {
    const WindowAccount& w = a.window;
    const bool own = w.ok && w.accepted >= 0 && w.seconds > 0;
    const double accepts = own ? w.accepted : m.result.throughput_rps() * w.seconds;
    e.set("accepts_source", own ? "server window" : "client requests");
    put(e, c, "window_accepts", accepts);
    put(e, c, "window_s", w.seconds);
    put(e, c, "accepts_per_s", own ? w.accepted / w.seconds : m.result.throughput_rps(),
        "accepts_per_s");
    put(e, c, "vcsw_per_accept", own && w.vcsw >= 0 && accepts > 0 ? w.vcsw / accepts : NAN,
        "vcsw_per_accept");
}

void put_connect(const Measured& m, Counters& c, Json& e) {
    const lg::Histogram& h = m.result.stats.connect_latency;
    const bool any = h.count() > 0;
    put(e, c, "connects", static_cast<double>(h.count()));
    put(e, c, "connect_p50_us", any ? lg::ns_to_us(h.value_at_percentile(50)) : NAN);
    put(e, c, "connect_p99_us", any ? lg::ns_to_us(h.value_at_percentile(99)) : NAN,
        "connect_p99_us");
}

void put_futile(const Accounted& a, Counters& c, Json& e) {
    const Json* total = a.stats.is_object() ? a.stats.find("total") : nullptr;
    const double futile = total ? number_at(*total, "futile_wakeups") : NAN;
    const double accepted = total ? number_at(*total, "accepted") : NAN;
    e.set("futile_source", "stats file: the server's lifetime over its lifetime accepts");
    put(e, c, "futile_wakeups", futile);
    put(e, c, "accepted_lifetime", accepted);
    put(e, c, "futile_per_accept", accepted > 0 ? futile / accepted : NAN, "futile_per_accept");
}

CaseHooks accept_hooks(const CaseSpec& spec) {
    CaseHooks h;
    h.finish = [spec](const Measured& m, const Accounted& a, Counters& c, Json& e) {
        e.set("accept_mode", spec.variant.substr(0, spec.variant.rfind('-')));
        e.set("threads", static_cast<int>(spec.threads));
        e.set("acceptors", static_cast<int>(spec.pattern == "reactor-pool" ? 1 : spec.threads));
        put_accepts(m, a, c, e);
        put_connect(m, c, e);
        put_futile(a, c, e);
    };
    return h;
}

}  // namespace

Experiment accept_experiment() {
    Experiment e;
    e.name = "accept";
    e.claims = {"M2", "M5"};
    e.cases = accept_cases;
    e.hooks = accept_hooks;
    return e;
}

}  // namespace pb::bench
