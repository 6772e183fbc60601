// format_summary(): the wrk-like text summary of a Result.
#include <fmt/format.h>

#include <chrono>
#include <cmath>

#include "report_format.hpp"
#include "result.hpp"

namespace pb::loadgen {
namespace {

std::string format_bytes(double bytes) {
    if (bytes < 1024.0) return fmt::format("{:.0f}B", bytes);
    if (bytes < 1024.0 * 1024.0) return fmt::format("{:.2f}KB", bytes / 1024.0);
    if (bytes < 1024.0 * 1024.0 * 1024.0) return fmt::format("{:.2f}MB", bytes / 1024.0 / 1024.0);
    return fmt::format("{:.2f}GB", bytes / 1024.0 / 1024.0 / 1024.0);
}

void summary_block(std::string& out, const char* title, const Histogram& h) {
    if (h.empty()) return;
    out += fmt::format("  {}\n", title);
    out += fmt::format("    {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}\n", "mean",
                       "stdev", "p50", "p90", "p99", "p99.9", "p99.99", "max");
    out += fmt::format("    {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}\n",
                       format_us(h.mean() / static_cast<double>(kNsPerUs)),
                       format_us(h.stdev() / static_cast<double>(kNsPerUs)),
                       format_us(ns_to_us(h.value_at_percentile(50))),
                       format_us(ns_to_us(h.value_at_percentile(90))),
                       format_us(ns_to_us(h.value_at_percentile(99))),
                       format_us(ns_to_us(h.value_at_percentile(99.9))),
                       format_us(ns_to_us(h.value_at_percentile(99.99))),
                       format_us(ns_to_us(h.max())));
}

}  // namespace

std::string format_summary(const Result& r) {
    const Config& c = r.config;
    const RunStats& s = r.stats;
    std::string out;
    std::string mode = r.open_loop() ? fmt::format("open loop at {:.0f} req/s ({} arrivals)",
                                                   r.target_rps, to_string(c.arrival))
                                     : fmt::format("closed loop, pipeline {}", c.pipeline);
    double planned_s = std::chrono::duration<double>(c.duration).count();
    std::string stopped = r.runs == 1 && r.duration_s + 1e-3 < planned_s
                              ? fmt::format(" (stopped after {:.2f}s)", r.duration_s)
                              : "";
    out += fmt::format("Running {} test @ {}:{}{}{}\n", format_duration(c.duration), c.host, c.port,
                       r.runs > 1 ? fmt::format(" ({} runs merged)", r.runs) : "", stopped);
    out += fmt::format("  {} threads and {} connections, {}, {}{}\n", r.threads, c.connections,
                       to_string(c.protocol), mode,
                       c.connect_per_request
                           ? fmt::format(", connect per request (close {})", to_string(c.close))
                           : "");
    if (r.open_loop()) {
        summary_block(out, "Latency (corrected: from the intended send time)", s.latency);
        summary_block(out,
                      c.connect_per_request ? "Latency (uncorrected: from the connect() call)"
                                            : "Latency (uncorrected: from the actual write)",
                      s.uncorrected_latency);
    } else {
        summary_block(out, "Latency", s.latency);
    }
    summary_block(out, "Latency of the fast requests", s.fast_latency);
    summary_block(out, "Connect", s.connect_latency);
    summary_block(out, "First byte (from connect)", s.first_byte_latency);
    if (!s.recv_delay.empty())
        out += fmt::format(
            "  Generator receive delay (kernel receive stamp to read): p50 {}, p99 {}\n",
            format_us(ns_to_us(s.recv_delay.value_at_percentile(50))),
            format_us(ns_to_us(s.recv_delay.value_at_percentile(99))));
    if (c.spectrum && !s.latency.empty()) {
        // HdrHistogram's percentile distribution: 5 ticks per halving of the
        // distance to 100%, down to what the sample count can resolve.
        out += "  Detailed percentile spectrum (latency_us)\n";
        out += fmt::format("    {:>12} {:>14} {:>12} {:>14}\n", "Value(us)", "Percentile",
                           "TotalCount", "1/(1-Percentile)");
        const Histogram& h = s.latency;
        auto total = static_cast<double>(h.count());
        for (int k = 0;; ++k) {
            double remaining = std::pow(0.5, k / 5.0);
            if (1.0 / remaining > total) break;
            double pct = 100.0 * (1.0 - remaining);
            int64_t v = h.value_at_percentile(pct);
            out +=
                fmt::format("    {:>12.3f} {:>14.6f} {:>12} {:>14.2f}\n", ns_to_us(v), pct / 100.0,
                            h.count() - h.count_at_or_above(v + 1), 1.0 / remaining);
        }
        out += fmt::format("    {:>12.3f} {:>14.6f} {:>12} {:>14}\n", ns_to_us(h.max()), 1.0,
                           h.count(), "inf");
    }
    if (!s.latency.empty()) {
        out += "  Latency distribution\n";
        for (const auto& p : kPercentiles)
            out += fmt::format("    {:>8}  {}\n", p.key,
                               format_us(ns_to_us(s.latency.value_at_percentile(p.value))));
    }
    if (r.config.start_at && r.window_start) {
        // The window was due at start_at + warm-up; a positive gap is a late start.
        double due = *r.config.start_at + std::chrono::duration<double>(r.config.warmup).count();
        out += fmt::format("  Shared start: window opened {:+.3f} ms from its due instant {:.6f}\n",
                           (*r.window_start - due) * 1e3, due);
    }
    if (r.bringup)
        out += fmt::format("  Start barrier: {} of {} connections up in {:.3f}s{}\n", r.bringup->up,
                           r.bringup->connections, r.bringup->seconds,
                           r.bringup->complete() ? "" : " (the run went on without the others)");
    out += fmt::format("  {} requests in {:.2f}s, {} read, {} written\n", s.requests, r.duration_s,
                       format_bytes(static_cast<double>(s.bytes_read)),
                       format_bytes(static_cast<double>(s.bytes_written)));
    if (s.tcp.connections > 0 && s.requests > 0)
        out += fmt::format("  TCP: {:.2f} segments out and {:.2f} in per request, {} retransmits\n",
                           static_cast<double>(s.tcp.segs_out) / static_cast<double>(s.requests),
                           static_cast<double>(s.tcp.segs_in) / static_cast<double>(s.requests),
                           s.tcp.retransmits);
    if (r.has_errors()) {
        out += fmt::format("  ERRORS: {} total:", s.errors.total());
        s.errors.for_each([&](ErrorClass e, uint64_t n) {
            if (n) out += fmt::format(" {} {}", to_string(e), n);
        });
        out += "\n";
        for (const auto& e : s.error_samples) out += fmt::format("    {}\n", e);
        if (s.dropped)
            out +=
                fmt::format("  {} measured requests were lost with their connections\n", s.dropped);
    }
    out += fmt::format("Requests/sec: {:>10.2f}\n", r.throughput_rps());
    out += fmt::format(
        "Transfer/sec: {:>10}\n",
        format_bytes(r.duration_s > 0 ? static_cast<double>(s.bytes_read) / r.duration_s : 0.0));
    Verdict verdict = r.verdict();
    if (r.open_loop() && !verdict.ok()) {
        out += "!!! COULD NOT KEEP UP WITH THE PLAN: " + verdict.reason + "\n";
        if (verdict.kind != VerdictKind::kServerSaturated)
            out += "!!! the generator itself ran late: these numbers describe it, not the server\n";
        else
            out +=
                "!!! sends left on time whenever a connection had room: the server (or the\n"
                "!!! --pipeline cap) held the rate back\n";
    } else if (r.open_loop()) {
        out += fmt::format("Send lateness p99 {} (bound {}), {} planned requests left unsent\n",
                           format_us(ns_to_us(s.lateness.value_at_percentile(99))),
                           format_duration(c.max_lateness), s.unsent);
    }
    if (r.open_loop() && s.unsent > 0)
        out += fmt::format(
            "  {} planned requests were never sent: in the corrected latency as the wait from\n"
            "  their intended send time to the end of the drain\n",
            s.unsent);
    if (!r.open_loop() && r.generator_bound())
        out += fmt::format(
            "Note: a generator thread was busy {:.0f}% of the window: the throughput may be "
            "the generator's limit (try more -t)\n",
            100.0 * s.max_thread_busy);
    out += fmt::format("Verdict: {}{}\n", to_string(verdict.kind),
                       verdict.reason.empty() ? "" : ": " + verdict.reason);
    if (r.has_errors())
        out += fmt::format("!!! RUN HAD {} ERRORS: see above{}\n", s.errors.total(),
                           c.allow_errors ? " (--allow-errors: exit status 0)" : "");
    return out;
}

}  // namespace pb::loadgen
