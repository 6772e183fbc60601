// Claims experiment "nagle-size" (N2: a small segment is held back until a
// full segment has accumulated OR the previous one is acknowledged: two
// separate conditions).
//
// On loopback the MSS is ~64 KiB, so "a full segment" never forms and only the
// ACK condition shows (the Nagle matrix). Here the server (server-single,
// frame protocol) and the client sit in two network namespaces joined by a
// veth pair with a 1500-byte MTU (MSS 1448 with timestamps), and the client
// streams requests of ~4 KB made of writes of one size (20, 500, 1,400, 1,460,
// 4,000 bytes), several requests unanswered, with Nagle on or off. What the
// kernel made of the writes is the client socket's own TCP_INFO over the
// window: data bytes sent per data segment and data segments per write.
// Expected: with Nagle, writes below the MSS leave in segments near 1448 bytes
// (coalesced while an earlier segment is unacknowledged, released when a full
// one has formed); with TCP_NODELAY, one segment per write up to the MSS.
// Each point runs on two links (kFast, kSlowAck below): where the ACK is back
// within microseconds Nagle sends whatever accumulated meanwhile (the ACK
// condition); where the ACK is held back for milliseconds, a full segment
// forms first (the size condition).
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <array>
#include <chrono>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>

#include "clock.hpp"
#include "experiments.hpp"
#include "netns.hpp"
#include "small_writes.hpp"
#include "socket.hpp"

namespace pb::bench {

namespace {

namespace lg = pb::loadgen;

constexpr std::array<int, 5> kWriteSizes{20, 500, 1400, 1460, 4000};
constexpr int kMtu = 1500;
// A request is about this many bytes, in ceil(kRequestBytes / write size)
// writes: ~4 KB is a few segments, so every write size ends a request inside
// a segment and the next request's first write finds data still unsent.
constexpr int kRequestBytes = 4000;
// Requests unanswered: the client keeps writing while replies come back,
// so an unacknowledged segment is nearly always out (the case Nagle holds
// back for), without filling the socket buffers (latency stays the exchange's).
constexpr int kPipeline = 8;
// The two links. "fast": the veth pair as it is, a round trip of microseconds,
// so an ACK is nearly always back before the next write and Nagle's ACK
// condition is the one that releases data. "slowack": a token bucket of
// 1 Mbit/s on the server's egress (its replies and ACKs; netem is not
// available here) holds every ACK back for milliseconds while the client's
// direction stays as fast, so data waits for the other condition, a full
// segment. A queue of at most 50 ms: the bucket drops beyond it.
constexpr const char* kFast = "fast";
constexpr const char* kSlowAck = "slowack";
constexpr const char* kSlowAckRate = "1mbit";
constexpr const char* kSlowAckQueue = "50ms";

// ---- the cases ----------------------------------------------------------------------

// "fast-w20-nagle", "slowack-w1400-nodelay": the link, the write size, Nagle.
std::string variant_name(bool slow_ack, int write_bytes, bool nodelay) {
    return fmt::format("{}-w{}-{}", slow_ack ? kSlowAck : kFast, write_bytes,
                       nodelay ? "nodelay" : "nagle");
}

bool slow_ack_of(const CaseSpec& spec) {
    return spec.variant.rfind(kSlowAck, 0) == 0;
}

int write_bytes_of(const CaseSpec& spec) {
    size_t w = spec.variant.find("-w") + 2;
    return std::stoi(spec.variant.substr(w, spec.variant.find('-', w) - w));
}

std::vector<CaseSpec> nagle_size_cases() {
    std::vector<CaseSpec> out;
    for (bool slow_ack : {false, true})
        for (int w : kWriteSizes)
            for (bool nodelay : {false, true}) {
                CaseSpec c;
                c.pattern = "single";
                c.protocol = "frame";
                c.workload = "stream";
                c.connections = 1;
                c.client_nodelay = nodelay;
                c.write_mode = lg::WriteMode::kChunks;
                c.variant = variant_name(slow_ack, w, nodelay);
                c.warmup = std::chrono::milliseconds(200);
                c.duration = std::chrono::milliseconds(500);
                out.push_back(c);
            }
    return out;
}

double ratio(double a, double b) {
    return b > 0 ? a / b : std::numeric_limits<double>::quiet_NaN();
}

Outcome run_nagle_size(const CaseSpec& spec, const RunnerOptions& options) {
    std::optional<VethPair> net;
    try {
        net.emplace(kMtu);
        if (slow_ack_of(spec)) net->limit_egress(false, kSlowAckRate, kSlowAckQueue);
    } catch (const NetnsUnavailable& e) {
        return skipped_outcome(spec, options, e.what());
    }
    // bench/small_writes.cpp's client (Nagle's upside), here with a host in the
    // client namespace and the socket's data counters.
    SmallWritesConfig cfg;
    cfg.write_bytes = write_bytes_of(spec);
    cfg.writes = (kRequestBytes + cfg.write_bytes - 1) / cfg.write_bytes;
    cfg.reply_len = kNagleReplyBody;
    cfg.pipeline = kPipeline;
    cfg.nodelay = spec.client_nodelay;
    cfg.warmup = spec.warmup;
    cfg.duration = spec.duration;
    Measured m;
    Accounted a;
    SmallWritesRun run;
    try {
        run_across(
            *net, spec, options,
            [&](const std::string& host, uint16_t port) {
                cfg.host = host;
                cfg.port = port;
                run = run_small_writes_counted(cfg);
                // Each request leaves as `writes` chunks of write_bytes.
                run.result.config.write_mode = lg::WriteMode::kChunks;
                run.result.config.write_chunk = static_cast<uint32_t>(cfg.write_bytes);
                return run.result;
            },
            m, a);
    } catch (const std::exception& e) {
        Outcome out;
        out.error = e.what();
        return out;
    }

    const auto& st = m.result.stats;
    // write() calls of the requests sent inside the window.
    const auto writes = static_cast<double>(st.sent) * cfg.writes;
    const double requests = static_cast<double>(st.requests);
    const auto stalls =
        static_cast<double>(st.latency.count_at_or_above(int64_t{kStallUs} * lg::kNsPerUs));
    const double bytes_per_seg =
        ratio(static_cast<double>(run.sent.bytes), static_cast<double>(run.sent.data_segs));
    const double segs_per_write = ratio(static_cast<double>(run.sent.data_segs), writes);
    const double mb_per_s = static_cast<double>(st.bytes_written) / 1e6 / m.result.duration_s;
    Counters c{
        {"rps", m.result.throughput_rps()},
        {"p50_us", lg::ns_to_us(st.latency.value_at_percentile(50))},
        {"p99_us", lg::ns_to_us(st.latency.value_at_percentile(99))},
        {"errors", static_cast<double>(st.errors.total())},
        {"bytes_per_seg", bytes_per_seg},
        {"segs_per_write", segs_per_write},
        {"mb_per_s", mb_per_s},
        {"stalls", stalls},
        {"stall_fraction", ratio(stalls, requests)},
    };
    Counters shown;
    for (const auto& kv : c)
        if (!std::isnan(kv.second)) shown.push_back(kv);

    lg::Json exp = lg::Json::object();
    exp.set("write_bytes", cfg.write_bytes);
    exp.set("writes_per_request", cfg.writes);
    exp.set("pipeline", kPipeline);
    exp.set("nagle", !cfg.nodelay);
    exp.set("mtu", kMtu);
    exp.set("mss", static_cast<int64_t>(run.sent.mss));
    exp.set("writes", static_cast<int64_t>(writes));
    exp.set("bytes_sent", static_cast<int64_t>(run.sent.bytes));
    exp.set("data_segs_out", static_cast<int64_t>(run.sent.data_segs));
    exp.set("segs_out", static_cast<int64_t>(run.result.stats.tcp.segs_out));
    exp.set("retransmits", static_cast<int64_t>(run.result.stats.tcp.retransmits));
    exp.set("bytes_per_seg", bytes_per_seg);
    exp.set("segs_per_write", segs_per_write);
    exp.set("mb_per_s", mb_per_s);
    exp.set("stalls", stalls);
    exp.set("link", slow_ack_of(spec) ? kSlowAck : kFast);
    exp.set("link_detail",
            fmt::format("veth pair between two network namespaces, MTU {}{}", kMtu,
                        slow_ack_of(spec) ? fmt::format("; tbf {} (queue {}) on the server's "
                                                        "egress: its ACKs and replies",
                                                        kSlowAckRate, kSlowAckQueue)
                                          : ""));
    exp.set("note",
            "the client socket's TCP_INFO over the window: tcpi_bytes_sent / tcpi_data_segs_out "
            "(data segments only; segs_out also counts the pure ACKs of the replies)");
    return across_outcome(spec, options, std::move(shown), m, a, std::move(exp));
}

}  // namespace

Experiment nagle_size_experiment() {
    Experiment e;
    e.name = "nagle-size";
    e.claims = {"N2"};
    e.cases = nagle_size_cases;
    e.run = run_nagle_size;
    return e;
}

}  // namespace pb::bench
