// Claims experiment "queue" (Q5, Q6): server-worker-queue's hand-off between
// its one I/O loop and its workers, in three parts:
//   - backpressure: --queue-depth 4 against the default 1024 at 256 keep-alive
//     connections. A full queue refuses the loop's push; the loop then stops
//     reading that connection until a worker frees a slot (servers/
//     worker_queue.cpp), so the client's TCP window pushes back. The server's
//     stats file reports the queue's high-water mark; p99 and throughput show
//     what the small queue costs. server-single at the same load is the
//     no-hand-off line Q5's "adds latency" is measured against.
//   - order: 8 requests in flight per connection. The loadgen matches every
//     reply against the oldest request in flight on its connection; a reply
//     carrying another in-flight id is a reorder, one carrying an id answered
//     before a duplicate (loadgen RunStats).
//   - loss: the server is sent SIGKILL, or SIGTERM, half-way through the
//     window. Lost = measured requests sent minus replies verified; each lost
//     request's send time splits it into "in flight at the signal" (sent
//     before it) and "sent after the signal" (to a server stopping or gone,
//     answered by a reset); reconnects refused afterwards are connect errors.
//     SIGTERM with 8 in flight shows what the drain does to pipelined requests.
// After SIGKILL the server writes no stats file and its snapshots stop: the
// case's warnings say so, and its figures here come from the client alone.
#include <signal.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <memory>
#include <string>
#include <thread>

#include "case_steps.hpp"
#include "clock.hpp"
#include "experiments.hpp"

namespace pb::bench {

namespace {

namespace lg = pb::loadgen;
using lg::Json;

// 256 connections against a queue of 4: the loop reads far more requests per
// pass than the queue holds, so refusals happen; against 1024 they never can.
constexpr int kBackpressureConnections = 256;
constexpr int kSmallDepth = 4;
constexpr int kDefaultDepth = 1024;  // server-worker-queue's own default
constexpr int kPipeline = 8;
constexpr int kOrderConnections = 16;
// Enough connections that a few dozen requests are in flight at the signal.
constexpr int kLossConnections = 32;
constexpr auto kWarmup = std::chrono::milliseconds(100);
constexpr auto kDuration = std::chrono::milliseconds(400);

CaseSpec queue_case(const std::string& pattern, const std::string& variant, int connections) {
    CaseSpec c;
    c.pattern = pattern;
    c.protocol = "frame";
    c.workload = "tiny";
    c.connections = connections;
    c.warmup = kWarmup;
    c.duration = kDuration;
    c.variant = variant;
    return c;
}

CaseSpec depth_case(int depth) {
    CaseSpec c =
        queue_case("worker-queue", fmt::format("depth{}", depth), kBackpressureConnections);
    c.server_args = {"--queue-depth", std::to_string(depth)};
    return c;
}

std::vector<CaseSpec> queue_cases() {
    return {
        depth_case(kSmallDepth),
        depth_case(kDefaultDepth),
        queue_case("single", "no-handoff", kBackpressureConnections),
        queue_case("worker-queue", fmt::format("pipeline{}", kPipeline), kOrderConnections),
        queue_case("worker-queue", "sigkill", kLossConnections),
        queue_case("worker-queue", "sigterm", kLossConnections),
        queue_case("worker-queue", fmt::format("sigterm-pipeline{}", kPipeline), kLossConnections),
    };
}

bool pipelined(const CaseSpec& spec) {
    return spec.variant.find("pipeline") != std::string::npos;
}

// The signal a loss case sends, 0 for the others.
int loss_signal(const CaseSpec& spec) {
    if (spec.variant == "sigkill") return SIGKILL;
    if (spec.variant.rfind("sigterm", 0) == 0) return SIGTERM;
    return 0;
}

// Sets `key` in the document and, as a counter too when asked.
void put(Json& e, Counters& c, const char* key, double v, bool counter = true) {
    e.set(key, std::isfinite(v) ? Json(v) : Json());
    if (counter && std::isfinite(v)) c.emplace_back(key, v);
}

double queue_high_water(const Accounted& a) {
    const Json* total = a.stats.is_object() ? a.stats.find("total") : nullptr;
    const Json* v = total ? total->find("queue_high_water") : nullptr;
    return v && v->is_number() ? v->as_double() : NAN;
}

// When the hook signalled the server (CLOCK_MONOTONIC ns); 0: it did not.
struct SignalAt {
    std::atomic<int64_t> ns{0};
};

void signal_mid_window(ServerChild& server, const LoadWindow& window, int sig, SignalAt& at) {
    lg::Timeline t;
    if (!window.wait(t)) return;
    const int64_t middle = t.measure_start + (t.measure_end - t.measure_start) / 2;
    const int64_t wait = middle - now_ns();
    if (wait > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
    at.ns = now_ns();
    ::kill(server.pid(), sig);
}

void put_loss(const Measured& m, int64_t signal_ns, Counters& c, Json& e) {
    const lg::RunStats& st = m.result.stats;
    const double sent = static_cast<double>(st.sent);
    const double verified = static_cast<double>(st.requests);
    int64_t before = 0;
    for (int64_t t : st.dropped_sent_ns) before += signal_ns > 0 && t < signal_ns;
    const double times = static_cast<double>(st.dropped_sent_ns.size());
    e.set("signal", signal_ns > 0 ? Json(signal_ns) : Json());
    put(e, c, "sent", sent);
    put(e, c, "verified", verified);
    put(e, c, "lost", sent - verified);
    put(e, c, "lost_in_flight", static_cast<double>(before));
    put(e, c, "lost_after_signal", times - static_cast<double>(before));
    // Lost requests whose send time is not known: the loadgen keeps the first
    // 64Ki, and a request never failed nor answered is not among them.
    put(e, c, "lost_unplaced", sent - verified - times);
    put(e, c, "connect_errors", static_cast<double>(st.errors[lg::ErrorClass::kConnect]));
    e.set("note",
          "lost = measured requests sent - replies verified; lost_in_flight were sent before the "
          "signal, lost_after_signal after it (to a server stopping or gone); connect_errors are "
          "reconnects refused after it, no request sent");
}

CaseHooks queue_hooks(const CaseSpec& spec) {
    CaseHooks h;
    const int sig = loss_signal(spec);
    auto at = std::make_shared<SignalAt>();
    if (pipelined(spec)) h.loadgen = [](lg::Config& config) { config.pipeline = kPipeline; };
    if (sig != 0)
        h.during = [sig, at](ServerChild& server, const LoadWindow& window) {
            signal_mid_window(server, window, sig, *at);
        };
    h.finish = [spec, sig, at](const Measured& m, const Accounted& a, Counters& c, Json& e) {
        const lg::RunStats& st = m.result.stats;
        e.set("part", sig != 0 ? "loss" : pipelined(spec) ? "order" : "backpressure");
        e.set("pipeline", pipelined(spec) ? kPipeline : 1);
        put(e, c, "queue_high_water", queue_high_water(a));
        put(e, c, "reorders", static_cast<double>(st.reorders));
        put(e, c, "duplicates", static_cast<double>(st.duplicates));
        if (sig != 0) {
            e.set("signal_name", sig == SIGKILL ? "SIGKILL" : "SIGTERM");
            put_loss(m, at->ns.load(), c, e);
        }
    };
    return h;
}

}  // namespace

Experiment queue_experiment() {
    Experiment e;
    e.name = "queue";
    e.claims = {"Q5", "Q6"};
    e.cases = queue_cases;
    e.hooks = queue_hooks;
    return e;
}

}  // namespace pb::bench
