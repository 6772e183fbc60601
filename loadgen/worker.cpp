// The worker's event loop: construction, the start barrier, the run loop and its
// poll, the open-loop timer, housekeeping, and the measured window's edges.
#include "worker.hpp"

#include <unistd.h>
#ifdef __linux__
#include <sys/timerfd.h>
#endif

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <ctime>
#include <thread>

namespace pb::loadgen {
namespace {

constexpr int64_t kMs = 1'000'000;
// Timeouts and reconnects are checked this often; both are coarse by nature.
constexpr int64_t kHousekeepingNs = 10 * kMs;
// One read takes up to this much; replies are verified in place, never copied.
constexpr size_t kReadBufferBytes = 256 * 1024;

int64_t thread_cpu_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

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
            for (size_t i = 0; i < c.count; ++i) {
                const InFlight& f = c.ring[(c.head + i) % c.ring.size()];
                if (!f.measured) continue;
                stats_.dropped++;
                if (stats_.dropped_sent_ns.size() < RunStats::kMaxDroppedTimes)
                    stats_.dropped_sent_ns.push_back(f.sent);
            }
            in_flight_ -= c.count;
            c.count = 0;
        }
        if (config_.open_loop()) record_unsent(c, drain_end);
        close_conn(c, false);
    }
}

}  // namespace pb::loadgen
