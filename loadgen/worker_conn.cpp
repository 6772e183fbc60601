// The worker's connections: connecting, closing and failing them (errors are
// counted by class), their TCP counters, and reading and verifying their replies.
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "worker.hpp"

namespace pb::loadgen {
namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kMinBackoffNs = 10 * kMs;
constexpr int64_t kMaxBackoffNs = 200 * kMs;

ErrorClass error_class(ReplyError e) {
    switch (e) {
        case ReplyError::kVerify:
            return ErrorClass::kVerify;
        case ReplyError::kStatus:
            return ErrorClass::kStatus;
        default:
            return ErrorClass::kProtocol;
    }
}

}  // namespace

// ---- connections ------------------------------------------------------------------

void Worker::open(Conn& c, int64_t now) {
    int error = 0;
    c.connect_start = now;
    c.first_byte_seen = false;
    ConnectStatus st = start_connect(endpoint_, config_.nodelay, c.fd, error, config_.fastopen);
    if (st == ConnectStatus::kFailed) {
        fail(c, ErrorClass::kConnect, fmt::format("connect: {}", std::strerror(error)));
        return;
    }
    if (config_.recv_timestamps) enable_rx_timestamps(c.fd.get());
    size_t fd = static_cast<size_t>(c.fd.get());
    if (by_fd_.size() <= fd) by_fd_.resize(fd + 64, -1);
    by_fd_[fd] = static_cast<int32_t>(&c - conns_.data());
    c.interest = kWritable;
    poller_.add(c.fd.get(), c.interest);
    c.state = State::kConnecting;
    if (st == ConnectStatus::kConnected) on_connected(c, now);
}

void Worker::on_connected(Conn& c, int64_t now) {
    c.state = State::kOpen;
    stats_.connects++;
    set_interest(c, kReadable);
    if (config_.quickack) try_set_quickack(c.fd.get(), true);
    if (window_open_ && !window_closed_) {
        // All of a new connection's segments count, its handshake included.
        c.tcp_base = TcpCounters{};
        c.tcp_counted = false;
    }
    if (config_.connect_per_request) {
        if (c.count > 0) {
            if (c.front().measured) stats_.connect_latency.record(now - c.connect_start);
            write_request(c, c.front());
        }
    } else if (running_) {
        c.ready_since = now;
        if (config_.open_loop())
            schedule(c, now);
        else
            top_up(c, now);
    } else if (bringing_up_) {
        start_request(c, now, now);  // the probe: unmeasured, tl_ is not set yet
    }
    if (c.state == State::kOpen) flush(c);
}

void Worker::revive(Conn& c, int64_t now) {
    if (config_.connect_per_request || !c.up || c.state != State::kClosed) return;
    if (now < c.retry_at || now >= tl_.measure_end) return;
    open(c, now);
}

void Worker::close_conn(Conn& c, bool reset) {
    if (c.fd) {
        count_tcp(c);
        poller_.remove(c.fd.get(), c.interest);
        by_fd_[static_cast<size_t>(c.fd.get())] = -1;
        if (reset) try_set_linger_rst(c.fd.get());
        c.fd.reset();
    }
    c.state = State::kClosed;
    c.interest = 0;
    c.out.clear();
    c.frame.reset();
    c.http.reset();
    c.first_byte_seen = false;
}

void Worker::fail(Conn& c, ErrorClass e, const std::string& detail) {
    int64_t now = now_ns();
    stats_.errors[e]++;
    if (stats_.error_samples.size() < RunStats::kMaxErrorSamples)
        stats_.error_samples.push_back(
            fmt::format("conn {}: {}: {}", c.number, to_string(e), detail));
    for (size_t i = 0; i < c.count; ++i) {
        const InFlight& f = c.ring[(c.head + i) % c.ring.size()];
        if (!f.measured) continue;
        stats_.dropped++;
        if (stats_.dropped_sent_ns.size() < RunStats::kMaxDroppedTimes)
            stats_.dropped_sent_ns.push_back(f.sent);
    }
    in_flight_ -= c.count;
    c.count = 0;
    c.head = 0;
    close_conn(c, false);
    c.backoff = std::clamp(c.backoff * 2, kMinBackoffNs, kMaxBackoffNs);
    c.retry_at = now + c.backoff;
    c.ready_since = now;
    c.in_heap = false;
    ++c.heap_gen;
}

void Worker::snapshot_tcp(Conn& c) {
    c.tcp_base = TcpCounters{};
    c.tcp_counted = false;
    read_tcp_counters(c.fd.get(), c.tcp_base);
}

void Worker::count_tcp(Conn& c) {
    // Only connections that lived in the window count, each once.
    if (!window_open_ || c.tcp_counted || c.state == State::kConnecting) return;
    TcpCounters now;
    if (!read_tcp_counters(c.fd.get(), now)) return;
    c.tcp_counted = true;
    stats_.tcp.segs_out += now.segs_out - std::min(now.segs_out, c.tcp_base.segs_out);
    stats_.tcp.segs_in += now.segs_in - std::min(now.segs_in, c.tcp_base.segs_in);
    stats_.tcp.retransmits += now.retransmits - std::min(now.retransmits, c.tcp_base.retransmits);
    stats_.tcp.connections++;
}

void Worker::set_interest(Conn& c, uint32_t mask) {
    if (c.interest == mask) return;
    poller_.modify(c.fd.get(), c.interest, mask);
    c.interest = mask;
}

// ---- I/O ---------------------------------------------------------------------------

void Worker::on_event(Conn& c, uint32_t mask) {
    if (c.state == State::kConnecting) {
        int err = connect_result(c.fd.get());
        if (err != 0) {
            fail(c, ErrorClass::kConnect, fmt::format("connect: {}", std::strerror(err)));
            return;
        }
        on_connected(c, now_ns());
        return;
    }
    if (mask & kReadable) on_readable(c);
    if (c.state == State::kOpen && (mask & kWritable)) flush(c);
}

void Worker::on_readable(Conn& c) {
    int64_t now = 0;
    bool eof = false;
    for (;;) {
        int64_t stamp = 0;
        ssize_t n = config_.recv_timestamps
                        ? read_stamped(c.fd.get(), read_buf_.data(), read_buf_.size(), stamp)
                        : ::read(c.fd.get(), read_buf_.data(), read_buf_.size());
        if (n > 0) {
            // Read at once: the kernel stamped the data when it arrived.
            int64_t recv_delay = stamp > 0 ? std::max<int64_t>(realtime_ns() - stamp, 0) : -1;
            now = now_ns();
            bytes_read_ += static_cast<uint64_t>(n);
            if (config_.quickack) try_set_quickack(c.fd.get(), true);
            if (config_.connect_per_request && !c.first_byte_seen) {
                c.first_byte_seen = true;
                if (c.count > 0 && c.front().measured)
                    stats_.first_byte_latency.record(now - c.connect_start);
            }
            parse(c, read_buf_.data(), static_cast<size_t>(n), now, recv_delay);
            if (c.state != State::kOpen) break;
            if (static_cast<size_t>(n) < read_buf_.size()) break;
            continue;
        }
        if (n == 0) {
            eof = true;
            break;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        fail(c, ErrorClass::kRead, std::strerror(errno));
        return;
    }
    if (now == 0) now = now_ns();
    if (eof && c.state == State::kOpen) {
        bool mid_reply = c.frame.in_progress() || c.http.in_progress();
        if (c.count > 0 || mid_reply) {
            fail(c, ErrorClass::kRead,
                 fmt::format("server closed the connection with {} requests in flight", c.count));
            return;
        }
        // An idle keep-alive connection the server let go: not an error.
        close_conn(c, false);
        c.retry_at = now;
    }
    // Send what the replies made room for.
    if (!running_) return;
    revive(c, now);
    if (config_.open_loop())
        schedule(c, now);
    else
        top_up(c, now);
    if (c.state == State::kOpen) flush(c);
}

void Worker::parse(Conn& c, const uint8_t* data, size_t len, int64_t now, int64_t recv_delay_ns) {
    size_t off = 0;
    while (off < len) {
        if (c.count == 0) {
            fail(c, ErrorClass::kProtocol,
                 fmt::format("{} bytes with no request in flight", len - off));
            return;
        }
        ExpectedReply expect = builder_.expected(c.front().id);
        size_t used = 0;
        ParseStatus st;
        ReplyError err;
        const std::string* detail;
        if (config_.protocol == Protocol::kHttp) {
            st = c.http.feed(reinterpret_cast<const char*>(data + off), len - off, expect,
                             config_.verify, used);
            err = c.http.error();
            detail = &c.http.detail();
        } else {
            st = c.frame.feed(data + off, len - off, expect, config_.verify, used);
            err = c.frame.error();
            detail = &c.frame.detail();
        }
        off += used;
        if (st == ParseStatus::kError) {
            if (config_.protocol == Protocol::kFrame && c.frame.unexpected_id())
                count_out_of_order(c, *c.frame.unexpected_id());
            fail(c, error_class(err), *detail);
            return;
        }
        if (st == ParseStatus::kNeedMore) return;
        complete(c, now, recv_delay_ns);
        if (c.state != State::kOpen) return;
    }
}

void Worker::count_out_of_order(const Conn& c, uint64_t id) {
    for (size_t i = 1; i < c.count; ++i) {
        if (c.ring[(c.head + i) % c.ring.size()].id == id) {
            stats_.reorders++;
            return;
        }
    }
    // Ids are the connection's number over a sequence (start_request): a lower
    // sequence of this connection was answered (or failed) before.
    constexpr uint64_t kSeqMask = (uint64_t{1} << 40) - 1;
    if ((id >> 40) == static_cast<uint64_t>(c.number) &&
        (id & kSeqMask) < (c.ring[c.head].id & kSeqMask))
        stats_.duplicates++;
}

void Worker::complete(Conn& c, int64_t now, int64_t recv_delay_ns) {
    InFlight f = c.front();
    c.pop();
    --in_flight_;
    c.backoff = 0;
    c.ready_since = now;
    if (bringing_up_) c.up = true;
    if (now >= tl_.measure_start && now < tl_.measure_end) stats_.window_replies++;
    if (f.measured) {
        stats_.requests++;
        // The corrected latency starts at the intended send time: a request the
        // plan wanted sent while the server (or this connection) was stuck has
        // been waiting since then, just like a real user's would.
        int64_t latency = now - f.intended;
        stats_.latency.record(latency);
        stats_.uncorrected_latency.record(now - f.sent);
        if (recv_delay_ns >= 0) stats_.recv_delay.record(recv_delay_ns);
        if (config_.slow_fraction > 0.0) {
            if (f.slow)
                stats_.slow_requests++;
            else
                stats_.fast_latency.record(latency);
        }
    }
    if (config_.connect_per_request) {
        // The client closes: FIN (TIME_WAIT stays here) or RST (nothing stays).
        close_conn(c, config_.close == CloseMode::kRst);
        return;
    }
    if (config_.protocol == Protocol::kHttp && !c.http.keep_alive()) {
        if (c.count > 0) {
            fail(c, ErrorClass::kRead,
                 fmt::format("server sent Connection: close with {} requests in flight", c.count));
            return;
        }
        close_conn(c, false);
        c.retry_at = now;
    }
}

}  // namespace pb::loadgen
