// Claims experiment "connection" (C1: keeping a connection open for many
// requests is much cheaper than a connection per request).
//
// The same server and the same 64-byte exchange, once over connections that
// stay open (tiny) and once with a connect, a request and a close per request
// (churn), at 1 connection (nothing queues: the latency is the exchange's own)
// and at 16. The cost the claim is about is what the server spends per request
// (cpu_us_per_req, from its own accounting) and the latency of the first byte;
// the churn side also records where its time goes: connect() to established,
// and connect() to the reply's first byte. server-single shows the cost of the
// TCP handshake and teardown alone; thread-per-conn adds a thread's birth and
// death to every connection.
#include <fmt/format.h>

#include "case_steps.hpp"
#include "experiments.hpp"

namespace pb::bench {

namespace {

namespace lg = pb::loadgen;

constexpr int kConnectionCounts[] = {1, 16};
constexpr const char* kPatterns[] = {"single", "thread-per-conn"};

std::vector<CaseSpec> connection_cases() {
    std::vector<CaseSpec> out;
    for (const char* pattern : kPatterns)
        for (const char* workload : {"tiny", "churn"})
            for (int conns : kConnectionCounts) {
                CaseSpec c;
                c.pattern = pattern;
                c.protocol = "frame";
                c.workload = workload;
                c.variant = workload;
                c.connections = conns;
                c.warmup = std::chrono::milliseconds(150);
                c.duration = std::chrono::milliseconds(500);
                out.push_back(c);
            }
    return out;
}

// The churn side's connect and first-byte percentiles, microseconds.
void add_connect_figures(const Measured& m, const Accounted&, Counters& counters, lg::Json& exp) {
    const auto& s = m.result.stats;
    auto put = [&](const char* name, const lg::Histogram& h, double p) {
        if (h.count() == 0) return;
        double us = lg::ns_to_us(h.value_at_percentile(p));
        counters.emplace_back(name, us);
        exp.set(name, us);
    };
    put("connect_p50_us", s.connect_latency, 50);
    put("connect_p99_us", s.connect_latency, 99);
    put("first_byte_p50_us", s.first_byte_latency, 50);
    put("first_byte_p99_us", s.first_byte_latency, 99);
    exp.set("connects", static_cast<double>(s.connect_latency.count()));
}

}  // namespace

Experiment connection_experiment() {
    Experiment e;
    e.name = "connection";
    e.claims = {"C1"};
    e.cases = connection_cases;
    e.hooks = [](const CaseSpec&) {
        CaseHooks h;
        h.finish = add_connect_figures;
        return h;
    };
    return e;
}

}  // namespace pb::bench
