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
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include "clock.hpp"
#include "experiments.hpp"
#include "frame.hpp"
#include "netns.hpp"
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
// A reply that never comes ends the run with an error instead of a hang.
constexpr timeval kReplyTimeout{5, 0};

// ---- the streaming client -------------------------------------------------------------

struct StreamConfig {
    std::string host;
    uint16_t port = 0;
    int write_bytes = 0;
    int writes = 0;  // per request
    bool nodelay = false;
    lg::Duration warmup{}, duration{};
};

// The client socket's data counters (Linux TCP_INFO).
struct TcpSent {
    uint64_t bytes = 0;      // tcpi_bytes_sent: data bytes, retransmissions included
    uint64_t data_segs = 0;  // tcpi_data_segs_out: segments that carried data
    uint64_t segs = 0;       // tcpi_segs_out: every segment, pure ACKs included
    uint64_t retrans = 0;
    uint32_t mss = 0;
};

TcpSent tcp_sent(int fd) {
    tcp_info i{};
    socklen_t len = sizeof i;
    TcpSent t;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &i, &len) != 0) return t;
    t.bytes = i.tcpi_bytes_sent;
    t.data_segs = i.tcpi_data_segs_out;
    t.segs = i.tcpi_segs_out;
    t.retrans = i.tcpi_total_retrans;
    t.mss = i.tcpi_snd_mss;
    return t;
}

struct StreamRun {
    lg::Result result;
    TcpSent window;       // over the window: end minus start
    uint64_t writes = 0;  // write() calls of the window's requests
    uint32_t mss = 0;
};

void send_all(int fd, const uint8_t* p, size_t n) {
    while (n > 0) {
        ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= static_cast<size_t>(w);
        } else if (!(w < 0 && errno == EINTR)) {
            throw std::runtime_error(fmt::format("write: {}", std::strerror(errno)));
        }
    }
}

void read_all(int fd, uint8_t* p, size_t n) {
    while (n > 0) {
        ssize_t r = ::read(fd, p, n);
        if (r > 0) {
            p += r;
            n -= static_cast<size_t>(r);
        } else if (r == 0) {
            throw std::runtime_error("read: the server closed the connection");
        } else if (errno != EINTR) {
            throw std::runtime_error(fmt::format("read: {}", std::strerror(errno)));
        }
    }
}

// One connection, a writer thread and a reader (this thread), blocking sockets,
// every write() exactly write_bytes: bench/small_writes.cpp's client, with a
// host of its choosing and the socket's data counters (bytes and data
// segments, not segs_out, which counts the pure ACKs of the replies too).
// Throws std::runtime_error when the connection fails or a reply is wrong.
StreamRun run_stream(const StreamConfig& cfg) {
    UniqueFd fd = connect_tcp(cfg.host, cfg.port, false);
    set_nodelay(fd.get(), cfg.nodelay);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &kReplyTimeout, sizeof kReplyTimeout);

    const size_t request_bytes = static_cast<size_t>(cfg.writes) * cfg.write_bytes;
    const auto body_len = static_cast<uint32_t>(request_bytes - frame::kRequestHeaderSize);
    std::vector<uint8_t> request(request_bytes);
    std::vector<uint8_t> reply(frame::kReplyHeaderSize + kNagleReplyBody);

    StreamRun run;
    lg::Result& result = run.result;
    result.config.host = cfg.host;
    result.config.port = cfg.port;
    result.config.connections = 1;
    result.config.warmup = cfg.warmup;
    result.config.duration = cfg.duration;
    result.config.pipeline = kPipeline;
    result.config.request_size = body_len;
    result.config.response_size = kNagleReplyBody;
    result.config.nodelay = cfg.nodelay;
    result.config.write_mode = lg::WriteMode::kChunks;
    result.config.write_chunk = static_cast<uint32_t>(cfg.write_bytes);
    result.config.quiet = true;
    result.threads = 1;
    result.hosts.push_back(lg::HostInfo::current());
    lg::RunStats& stats = result.stats;

    struct InFlight {
        uint64_t id;
        Clock::time_point sent;
        bool measured;
    };
    std::mutex mutex;
    std::condition_variable room;
    std::deque<InFlight> in_flight;
    bool writer_done = false;
    std::string writer_error;
    const auto start = Clock::now();
    const auto measure_start = start + cfg.warmup;
    const auto measure_end = measure_start + cfg.duration;
    bool window_open = false;  // the writer's own
    TcpSent at_open;

    std::thread writer([&] {
        uint64_t next_id = 1;
        try {
            for (auto now = Clock::now(); now < measure_end; now = Clock::now()) {
                if (!window_open && now >= measure_start) {
                    at_open = tcp_sent(fd.get());
                    window_open = true;
                }
                frame::RequestHeader h;
                h.body_len = body_len;
                h.reply_len = kNagleReplyBody;
                h.id = next_id++;
                frame::encode_request_header(h, request.data());
                frame::fill_payload(h.id, 0, request.data() + frame::kRequestHeaderSize, body_len);
                {
                    std::unique_lock lock(mutex);
                    room.wait(lock, [&] { return in_flight.size() < size_t{kPipeline}; });
                    in_flight.push_back({h.id, Clock::now(), window_open});
                }
                room.notify_all();
                for (int i = 0; i < cfg.writes; ++i)
                    send_all(fd.get(), request.data() + static_cast<size_t>(i) * cfg.write_bytes,
                             static_cast<size_t>(cfg.write_bytes));
                if (window_open) {
                    ++stats.sent;
                    stats.bytes_written += request_bytes;
                    run.writes += static_cast<uint64_t>(cfg.writes);
                }
            }
        } catch (const std::exception& e) {
            writer_error = e.what();
        }
        std::lock_guard lock(mutex);
        writer_done = true;
        room.notify_all();
    });

    std::string reader_error;
    try {
        for (;;) {
            {
                std::unique_lock lock(mutex);
                room.wait(lock, [&] { return !in_flight.empty() || writer_done; });
                if (in_flight.empty()) break;
            }
            read_all(fd.get(), reply.data(), reply.size());
            auto done = Clock::now();
            InFlight req;
            {
                std::lock_guard lock(mutex);
                req = in_flight.front();
                in_flight.pop_front();
                room.notify_all();
            }
            frame::ReplyHeader rh;
            if (!frame::decode_reply_header(reply.data(), rh) || rh.id != req.id ||
                rh.reply_len != kNagleReplyBody ||
                frame::verify_payload(req.id, 0, reply.data() + frame::kReplyHeaderSize,
                                      kNagleReplyBody) != kNagleReplyBody)
                throw std::runtime_error(fmt::format("reply {} failed verification", req.id));
            if (req.measured) {
                auto ns =
                    std::chrono::duration_cast<std::chrono::nanoseconds>(done - req.sent).count();
                stats.latency.record(ns);
                stats.uncorrected_latency.record(ns);
                ++stats.requests;
                stats.bytes_read += reply.size();
            }
            if (done >= measure_start && done < measure_end) ++stats.window_replies;
        }
    } catch (const std::exception& e) {
        reader_error = e.what();
        ::shutdown(fd.get(), SHUT_RDWR);  // unblocks the writer
        std::lock_guard lock(mutex);
        in_flight.clear();
        room.notify_all();
    }
    writer.join();
    if (!reader_error.empty()) throw std::runtime_error(reader_error);
    if (!writer_error.empty()) throw std::runtime_error(writer_error);

    const TcpSent at_close = tcp_sent(fd.get());
    run.window = {at_close.bytes - at_open.bytes, at_close.data_segs - at_open.data_segs,
                  at_close.segs - at_open.segs, at_close.retrans - at_open.retrans, 0};
    run.mss = at_close.mss;
    stats.tcp.segs_out = run.window.segs;
    stats.tcp.retransmits = run.window.retrans;
    stats.tcp.connections = 1;
    stats.connects = 1;
    result.duration_s = std::chrono::duration<double>(cfg.duration).count();
    result.started_at = utc_now();
    auto ns = [](Clock::time_point t) {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    };
    result.timeline = {ns(start), ns(measure_start), ns(measure_end), ns(measure_end)};
    return run;
}

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
    StreamConfig cfg;
    cfg.write_bytes = write_bytes_of(spec);
    cfg.writes = (kRequestBytes + cfg.write_bytes - 1) / cfg.write_bytes;
    cfg.nodelay = spec.client_nodelay;
    cfg.warmup = spec.warmup;
    cfg.duration = spec.duration;
    Measured m;
    Accounted a;
    StreamRun run;
    try {
        run_across(
            *net, spec, options,
            [&](const std::string& host, uint16_t port) {
                cfg.host = host;
                cfg.port = port;
                run = run_stream(cfg);
                return run.result;
            },
            m, a);
    } catch (const std::exception& e) {
        Outcome out;
        out.error = e.what();
        return out;
    }

    const auto& st = m.result.stats;
    const double requests = static_cast<double>(st.requests);
    const auto stalls =
        static_cast<double>(st.latency.count_at_or_above(int64_t{kStallUs} * lg::kNsPerUs));
    const double bytes_per_seg =
        ratio(static_cast<double>(run.window.bytes), static_cast<double>(run.window.data_segs));
    const double segs_per_write =
        ratio(static_cast<double>(run.window.data_segs), static_cast<double>(run.writes));
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
    exp.set("mss", static_cast<int64_t>(run.mss));
    exp.set("writes", static_cast<int64_t>(run.writes));
    exp.set("bytes_sent", static_cast<int64_t>(run.window.bytes));
    exp.set("data_segs_out", static_cast<int64_t>(run.window.data_segs));
    exp.set("segs_out", static_cast<int64_t>(run.window.segs));
    exp.set("retransmits", static_cast<int64_t>(run.window.retrans));
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
