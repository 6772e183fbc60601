#include "worker.hpp"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/timerfd.h>
#endif

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <thread>

namespace pb::loadgen {
namespace {

constexpr int64_t kMs = 1'000'000;
// Timeouts and reconnects are checked this often; both are coarse by nature.
constexpr int64_t kHousekeepingNs = 10 * kMs;
constexpr int64_t kMinBackoffNs = 10 * kMs;
constexpr int64_t kMaxBackoffNs = 200 * kMs;
// One read takes up to this much; replies are verified in place, never copied.
constexpr size_t kReadBufferBytes = 256 * 1024;

int64_t thread_cpu_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

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

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

Worker::Worker(const Config& config, const Endpoint& endpoint, int index, int first_connection,
               int count)
    : config_(config),
      endpoint_(endpoint),
      index_(index),
      cap_(config.connect_per_request ? 1 : static_cast<size_t>(config.pipeline)),
      builder_(config),
      conns_(static_cast<size_t>(count)),
      read_buf_(kReadBufferBytes),
      rng_(config.seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(index)),
      first_up_(first_connection),
      total_up_(config.connections) {
    for (int i = 0; i < count; ++i) {
        Conn& c = conns_[static_cast<size_t>(i)];
        c.number = first_connection + i;
        c.ring.resize(cap_);
    }
    if (config.open_loop()) {
        set_plan_share(first_up_, total_up_);
#ifdef __linux__
        // epoll_wait sleeps in whole milliseconds; a timerfd lets sends leave on
        // time at any rate instead of in 1 ms bursts.
        timer_fd_.reset(check_syscall(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC),
                                      "timerfd_create"));
        poller_.add(timer_fd_.get(), kReadable);
#endif
    }
}

Worker::~Worker() = default;

// ---- the loop -----------------------------------------------------------------

void Worker::bring_up(int64_t deadline, const std::atomic<bool>* stop) {
    if (config_.connect_per_request) {
        for (Conn& c : conns_) c.up = true;
        return;
    }
    bringing_up_ = true;
    int64_t now = now_ns();
    for (Conn& c : conns_) open(c, now);
    auto stopped = [stop] { return stop && stop->load(std::memory_order_relaxed); };
    while (bringup_pending() && (now = now_ns()) < deadline && !stopped()) {
        next_housekeeping_ = std::min(deadline, now + kHousekeepingNs);  // poll_once's bound
        poll_once(now);
    }
    for (Conn& c : conns_)
        if (!c.up) abandon_bringup(c);
    bringing_up_ = false;
}

bool Worker::bringup_pending() const {
    return std::any_of(conns_.begin(), conns_.end(),
                       [](const Conn& c) { return !c.up && c.state != State::kClosed; });
}

void Worker::abandon_bringup(Conn& c) {
    // Not an error: the server did not get to it in time, which the bringup
    // record says; its probe was never a request of the run.
    in_flight_ -= c.count;
    c.count = 0;
    c.head = 0;
    close_conn(c, false);
}

int Worker::up_connections() const {
    return static_cast<int>(
        std::count_if(conns_.begin(), conns_.end(), [](const Conn& c) { return c.up; }));
}

void Worker::run(const Timeline& timeline, const std::atomic<bool>* stop) {
    tl_ = timeline;
    int64_t now = now_ns();
    if (now < tl_.start) std::this_thread::sleep_for(std::chrono::nanoseconds(tl_.start - now));
    running_ = true;
    now = now_ns();
    next_housekeeping_ = now + kHousekeepingNs;
    if (now >= tl_.measure_start) open_window(now);

    if (config_.open_loop()) {
        start_plan(now);
    } else {
        for (Conn& c : conns_) {
            top_up(c, now);
            if (c.state == State::kOpen) flush(c);
        }
    }

    int64_t idle_from = 0;  // --busy-poll: an empty poll began here
    for (;;) {
        now = now_ns();
        if (idle_from != 0) {
            if (window_open_ && !window_closed_) idle_ns_ += now - idle_from;
            idle_from = 0;
        }
        if (stop && now < tl_.measure_end && stop->load(std::memory_order_relaxed)) {
            // Stopped early (Ctrl-C): the window ends here, the drain follows.
            tl_.measure_end = std::max(now, tl_.measure_start);
            tl_.drain_end = tl_.measure_end + config_.timeout.count();
        }
        if (!window_open_ && now >= tl_.measure_start) open_window(now);
        if (!window_closed_ && now >= tl_.measure_end) close_window();
        // Sends that came due before the end go out (late) before the end check.
        if (config_.open_loop()) run_due(now);
        if (finished(now)) break;
        if (now >= next_housekeeping_) housekeeping(now);
        int64_t before = now_ns();
        if (poll_once(before) == 0 && config_.busy_poll) idle_from = before;
    }
    finish();
}

bool Worker::finished(int64_t now) const {
    if (now >= tl_.drain_end) return true;
    return now >= tl_.measure_end && in_flight_ == 0;
}

int Worker::poll_once(int64_t now) {
    // --busy-poll spins only once the load runs; the run loop then checks the
    // plan on every pass, so no timer is armed.
    bool spin = config_.busy_poll && running_;
    // Coarse deadlines (phase edges, housekeeping) ride on epoll's millisecond
    // timeout; planned sends get the precise timer.
    int64_t wake = next_housekeeping_;
    if (running_) {
        if (!window_open_) wake = std::min(wake, tl_.measure_start);
        wake = std::min(wake, now < tl_.measure_end ? tl_.measure_end : tl_.drain_end);
    }
    if (!heap_.empty() && !spin) {
        int64_t due = heap_.top().when;
        if (timer_fd_)
            arm_timer(due, now);
        else
            wake = std::min(wake, due);
    }
    int64_t wait_ns = std::max<int64_t>(wake - now, 0);
    int timeout_ms =
        spin ? 0 : static_cast<int>(std::min<int64_t>((wait_ns + kMs - 1) / kMs, 1000));

    std::array<PollEvent, 256> events;
    int n = poller_.wait(events, timeout_ms);
    for (int i = 0; i < n; ++i) {
        const PollEvent& ev = events[static_cast<size_t>(i)];
        if (timer_fd_ && ev.fd == timer_fd_.get()) {
            uint64_t expirations;
            [[maybe_unused]] ssize_t r = ::read(ev.fd, &expirations, sizeof expirations);
            continue;
        }
        if (ev.fd < 0 || static_cast<size_t>(ev.fd) >= by_fd_.size()) continue;
        int32_t slot = by_fd_[static_cast<size_t>(ev.fd)];
        if (slot < 0) continue;  // closed earlier in this batch
        on_event(conns_[static_cast<size_t>(slot)], ev.mask);
    }
    return n;
}

void Worker::arm_timer(int64_t when, int64_t now) {
#ifdef __linux__
    // An earlier wake-up that has not fired yet is good enough: waking early
    // costs one empty pass; re-arming on every send would cost a syscall each.
    if (timer_armed_ > now && timer_armed_ <= when) return;
    itimerspec spec{};
    int64_t at = std::max<int64_t>(when, 1);
    spec.it_value.tv_sec = static_cast<time_t>(at / 1'000'000'000);
    spec.it_value.tv_nsec = static_cast<long>(at % 1'000'000'000);
    check_syscall(::timerfd_settime(timer_fd_.get(), TFD_TIMER_ABSTIME, &spec, nullptr),
                  "timerfd_settime");
    timer_armed_ = when;
#else
    (void)when;
    (void)now;
#endif
}

void Worker::housekeeping(int64_t now) {
    next_housekeeping_ = now + kHousekeepingNs;
    int64_t timeout = config_.timeout.count();
    for (Conn& c : conns_) {
        if (c.state == State::kConnecting && now - c.connect_start > timeout) {
            fail(c, ErrorClass::kTimeout, "connect timed out");
        } else if (c.count > 0 && c.state == State::kOpen && now - c.front().sent > timeout) {
            fail(c, ErrorClass::kTimeout,
                 fmt::format("no reply within {}", format_duration(config_.timeout)));
        }
        if (!running_) continue;
        revive(c, now);
        if (config_.open_loop())
            schedule(c, now);
        else
            top_up(c, now);
        if (c.state == State::kOpen) flush(c);
    }
}

void Worker::open_window(int64_t now) {
    window_open_ = true;
    window_opened_at_ = now;
    cpu_at_start_ = thread_cpu_ns();
    bytes_read_at_start_ = bytes_read_;
    bytes_written_at_start_ = bytes_written_;
    for (Conn& c : conns_)
        if (c.state == State::kOpen) snapshot_tcp(c);
}

void Worker::close_window() {
    window_closed_ = true;
    // How busy this thread was: near 100% means the generator, not the server,
    // may have set the pace.
    int64_t wall = now_ns() - window_opened_at_;
    double cpu = static_cast<double>(thread_cpu_ns() - cpu_at_start_);
    stats_.generator_cpu_seconds = cpu / 1e9;
    // A spinning thread burns all its CPU; its busy share is the time it spent
    // outside empty polls.
    if (config_.busy_poll) cpu = std::min(cpu, static_cast<double>(wall - idle_ns_));
    if (wall > 0) stats_.max_thread_busy = std::max(cpu, 0.0) / static_cast<double>(wall);
    stats_.bytes_read = bytes_read_ - bytes_read_at_start_;
    stats_.bytes_written = bytes_written_ - bytes_written_at_start_;
}

void Worker::finish() {
    int64_t drain_end = now_ns();
    if (!window_closed_) close_window();
    for (Conn& c : conns_) {
        if (c.count > 0) {
            stats_.errors[ErrorClass::kTimeout]++;
            if (stats_.error_samples.size() < RunStats::kMaxErrorSamples)
                stats_.error_samples.push_back(
                    fmt::format("conn {}: {} requests still unanswered at the end of the drain",
                                c.number, c.count));
            for (size_t i = 0; i < c.count; ++i)
                if (c.ring[(c.head + i) % c.ring.size()].measured) stats_.dropped++;
            in_flight_ -= c.count;
            c.count = 0;
        }
        if (config_.open_loop()) record_unsent(c, drain_end);
        close_conn(c, false);
    }
}

// ---- connections ------------------------------------------------------------------

void Worker::open(Conn& c, int64_t now) {
    int error = 0;
    c.connect_start = now;
    c.first_byte_seen = false;
    ConnectStatus st = start_connect(endpoint_, config_.nodelay, c.fd, error);
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
    for (size_t i = 0; i < c.count; ++i)
        if (c.ring[(c.head + i) % c.ring.size()].measured) stats_.dropped++;
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
            fail(c, error_class(err), *detail);
            return;
        }
        if (st == ParseStatus::kNeedMore) return;
        complete(c, now, recv_delay_ns);
        if (c.state != State::kOpen) return;
    }
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

void Worker::flush(Conn& c) {
    while (!c.out.empty()) {
        ssize_t n = ::send(c.fd.get(), c.out.peek(), c.out.readable(), MSG_NOSIGNAL);
        if (n > 0) {
            bytes_written_ += static_cast<uint64_t>(n);
            c.out.consume(static_cast<size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_interest(c, kReadable | kWritable);
            return;
        }
        fail(c, ErrorClass::kWrite, n < 0 ? std::strerror(errno) : "send returned 0");
        return;
    }
    set_interest(c, kReadable);
}

// ---- requests ------------------------------------------------------------------------

bool Worker::can_send(const Conn& c) const {
    if (config_.connect_per_request) return c.state == State::kClosed && c.count == 0;
    return c.state == State::kOpen && c.count < cap_;
}

void Worker::start_request(Conn& c, int64_t intended, int64_t now) {
    InFlight f;
    f.id = (static_cast<uint64_t>(c.number) << 40) | (c.next_seq++ & ((uint64_t{1} << 40) - 1));
    f.intended = intended;
    f.sent = now;
    f.slow = config_.slow_fraction > 0.0 && unit_(rng_) < config_.slow_fraction;
    f.measured = measuring(intended);
    if (f.measured) {
        stats_.sent++;
        // The generator's own delay: from when the send was both due and possible
        // (the connection had room) to when it happened.
        if (config_.open_loop())
            stats_.lateness.record(now - std::max(intended, c.ready_since));
    }
    c.push(f);
    ++in_flight_;
    if (config_.connect_per_request) {
        open(c, now);  // the request goes out in on_connected
        return;
    }
    write_request(c, f);
}

void Worker::write_request(Conn& c, const InFlight& f) {
    size_t len = builder_.size(f.slow);
    if (config_.write_mode == WriteMode::kSingle || !c.out.empty()) {
        // One write for everything queued: flush() sends it.
        auto* p = reinterpret_cast<uint8_t*>(c.out.prepare(len));
        builder_.write(f.id, f.slow, p);
        c.out.commit(len);
        return;
    }
    scratch_.resize(len);
    builder_.write(f.id, f.slow, scratch_.data());
    size_t first = builder_.split_point(f.slow);
    int fd = c.fd.get();
    size_t done = 0;
    auto send_piece = [&](const uint8_t* p, size_t n, int flags = 0) {
        ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL | flags);
        if (w > 0) done += static_cast<size_t>(w);
        return w == static_cast<ssize_t>(n);
    };
    switch (config_.write_mode) {
        case WriteMode::kSplit:
            if (send_piece(scratch_.data(), first))
                send_piece(scratch_.data() + first, len - first);
            break;
        case WriteMode::kWritev: {
            iovec iov[2] = {{scratch_.data(), first}, {scratch_.data() + first, len - first}};
            msghdr msg{};
            msg.msg_iov = iov;
            msg.msg_iovlen = 2;
            ssize_t w = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
            if (w > 0) done = static_cast<size_t>(w);
            break;
        }
        case WriteMode::kCork:
            try_set_cork(fd, true);
            if (send_piece(scratch_.data(), first))
                send_piece(scratch_.data() + first, len - first);
            try_set_cork(fd, false);  // uncorking pushes out whatever is held back
            break;
        case WriteMode::kMsgMore:
            // MSG_MORE is a one-call cork: the kernel holds the first piece back
            // until the second (sent without it) completes the request.
            if (send_piece(scratch_.data(), first, MSG_MORE))
                send_piece(scratch_.data() + first, len - first);
            break;
        case WriteMode::kChunks:
            for (size_t off = 0; off < len;) {
                size_t n = std::min<size_t>(config_.write_chunk, len - off);
                if (!send_piece(scratch_.data() + off, n)) break;
                off += n;
            }
            break;
        case WriteMode::kSingle:
            break;
    }
    bytes_written_ += done;
    if (done < len) {
        if (done == 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            fail(c, ErrorClass::kWrite, std::strerror(errno));
            return;
        }
        // The socket is full: the rest waits in the buffer for kWritable.
        c.out.append(scratch_.data() + done, len - done);
    }
}

void Worker::top_up(Conn& c, int64_t now) {
    if (!running_ || now >= tl_.measure_end) return;
    if (config_.connect_per_request) {
        if (can_send(c) && now >= c.retry_at) start_request(c, now, now);
        return;
    }
    while (can_send(c)) start_request(c, now, now);
}

}  // namespace pb::loadgen
