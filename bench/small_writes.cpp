#include "small_writes.hpp"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "client_socket.hpp"
#include "frame.hpp"
#include "socket.hpp"

namespace pb::bench {
namespace {

using Clock = std::chrono::steady_clock;

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

// The socket's TCP_INFO counters this client reports, read once per edge.
struct TcpReading {
    loadgen::TcpCounters counters;
    SmallWritesSent sent;
};

TcpReading tcp_reading(int fd) {
    TcpReading r;
    tcp_info i{};
    socklen_t len = sizeof i;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &i, &len) != 0) return r;
    r.counters = {i.tcpi_segs_out, i.tcpi_segs_in, i.tcpi_total_retrans, 1};
    r.sent = {i.tcpi_bytes_sent, i.tcpi_data_segs_out, i.tcpi_snd_mss};
    return r;
}

}  // namespace

SmallWritesRun run_small_writes_counted(const SmallWritesConfig& cfg) {
    if (cfg.writes < 1 || cfg.write_bytes < 1 || cfg.pipeline < 1 ||
        static_cast<size_t>(cfg.writes * cfg.write_bytes) < frame::kRequestHeaderSize)
        throw std::invalid_argument("small writes: a request must hold at least a frame header");
    UniqueFd fd = connect_tcp(cfg.host, cfg.port, false);
    set_nodelay(fd.get(), cfg.nodelay);
    // A reply that never comes ends the run with an error instead of a hang.
    timeval limit{5, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);

    const size_t request_bytes = static_cast<size_t>(cfg.writes * cfg.write_bytes);
    const uint32_t body_len = static_cast<uint32_t>(request_bytes - frame::kRequestHeaderSize);
    std::vector<uint8_t> request(request_bytes);
    std::vector<uint8_t> reply(frame::kReplyHeaderSize + cfg.reply_len);

    SmallWritesRun run;
    loadgen::Result& result = run.result;
    result.config.host = cfg.host;
    result.config.port = cfg.port;
    result.config.connections = 1;
    result.config.warmup = cfg.warmup;
    result.config.duration = cfg.duration;
    result.config.pipeline = cfg.pipeline;
    result.config.request_size = body_len;
    result.config.response_size = cfg.reply_len;
    result.config.nodelay = cfg.nodelay;
    result.config.write_mode = loadgen::WriteMode::kSplit;
    result.config.split_at = static_cast<uint32_t>(cfg.write_bytes);
    result.config.quiet = true;
    result.threads = 1;
    result.hosts.push_back(loadgen::HostInfo::current());
    loadgen::RunStats& stats = result.stats;

    // A writer thread and this (reader) thread, so that with a deep pipeline
    // the writes never wait for replies: a stream of small writes, the traffic
    // Nagle's algorithm was made for. The writer keeps at most `pipeline`
    // requests unanswered.
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
    std::atomic<bool> window_open{false};
    TcpReading at_open;

    std::thread writer([&] {
        uint64_t next_id = 1;
        try {
            for (;;) {
                auto now = Clock::now();
                if (now >= measure_end) break;
                if (!window_open && now >= measure_start) {
                    at_open = tcp_reading(fd.get());
                    window_open = true;
                }
                frame::RequestHeader h;
                h.body_len = body_len;
                h.reply_len = cfg.reply_len;
                h.id = next_id++;
                frame::encode_request_header(h, request.data());
                frame::fill_payload(h.id, 0, request.data() + frame::kRequestHeaderSize, body_len);
                {
                    std::unique_lock lock(mutex);
                    room.wait(lock,
                              [&] { return in_flight.size() < static_cast<size_t>(cfg.pipeline); });
                    in_flight.push_back({h.id, Clock::now(), window_open});
                }
                room.notify_all();  // the reader waits for something in flight
                // The point of the experiment: one write() per field-sized piece.
                for (int i = 0; i < cfg.writes; ++i)
                    send_all(fd.get(), request.data() + i * cfg.write_bytes,
                             static_cast<size_t>(cfg.write_bytes));
                if (window_open) {
                    ++stats.sent;
                    stats.bytes_written += request_bytes;
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
                rh.reply_len != cfg.reply_len ||
                frame::verify_payload(req.id, 0, reply.data() + frame::kReplyHeaderSize,
                                      cfg.reply_len) != cfg.reply_len)
                throw std::runtime_error(fmt::format("reply {} failed verification", req.id));
            if (req.measured) {
                int64_t ns =
                    std::chrono::duration_cast<std::chrono::nanoseconds>(done - req.sent).count();
                stats.latency.record(ns);
                stats.uncorrected_latency.record(ns);
                ++stats.requests;
                stats.bytes_read += reply.size();
            }
            // The throughput figure counts replies that arrive inside the window.
            if (done >= measure_start && done < measure_end) ++stats.window_replies;
        }
    } catch (const std::exception& e) {
        reader_error = e.what();
        // Unblocks the writer if it waits for room or sits in send().
        ::shutdown(fd.get(), SHUT_RDWR);
        std::lock_guard lock(mutex);
        in_flight.clear();
        room.notify_all();
    }
    writer.join();
    if (!reader_error.empty()) throw std::runtime_error(reader_error);
    if (!writer_error.empty()) throw std::runtime_error(writer_error);
    const TcpReading at_close = tcp_reading(fd.get());
    stats.tcp.segs_out = at_close.counters.segs_out - at_open.counters.segs_out;
    stats.tcp.segs_in = at_close.counters.segs_in - at_open.counters.segs_in;
    stats.tcp.retransmits = at_close.counters.retransmits - at_open.counters.retransmits;
    stats.tcp.connections = at_close.counters.connections;
    run.sent = {at_close.sent.bytes - at_open.sent.bytes,
                at_close.sent.data_segs - at_open.sent.data_segs, at_close.sent.mss};
    stats.connects = 1;
    result.duration_s = std::chrono::duration<double>(cfg.duration).count();
    auto ns = [](Clock::time_point t) {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    };
    result.timeline.start = ns(start);
    result.timeline.measure_start = ns(measure_start);
    result.timeline.measure_end = ns(measure_end);
    result.timeline.drain_end = ns(measure_end);
    return run;
}

}  // namespace pb::bench
