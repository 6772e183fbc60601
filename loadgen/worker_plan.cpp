// The open-loop plan of a Worker: when each connection's next request is due,
// sending what is due, and accounting for what the plan wanted but never sent.
#include <algorithm>

#include "worker.hpp"

namespace pb::loadgen {

void Worker::set_plan_share(int first_up, int total_up) {
    first_up_ = first_up;
    total_up_ = total_up;
    if (!config_.open_loop() || total_up <= 0) return;
    // Each connection that is up carries rate/total_up of the load; the sum over
    // them is the plan (Poisson streams add up to a Poisson stream).
    interval_ns_ = 1e9 * total_up / config_.rate;
    gap_ = std::exponential_distribution<double>(1.0 / interval_ns_);
}

void Worker::start_plan(int64_t now) {
    int slot = first_up_;
    for (Conn& c : conns_) {
        if (!c.up) {
            c.plan_done = true;  // out of the run since the start barrier
            continue;
        }
        // Uniform plans are phase-shifted so that their sum is evenly spaced.
        c.plan_slot = slot++;
        c.next_due = config_.arrival == Arrival::kPoisson
                         ? gap_(rng_)
                         : interval_ns_ * c.plan_slot / std::max(total_up_, 1);
        c.plan_done = due_of(c) >= tl_.measure_end;
        c.ready_since = tl_.start;
        schedule(c, now);
        if (c.state == State::kOpen) flush(c);
    }
}

void Worker::record_unsent(Conn& c, int64_t drain_end) {
    // What the plan wanted in the window but the connection never got to send
    // (stuck at its in-flight cap, disconnected, or past the end with a backlog).
    // Its user would still be waiting when the drain ended: leaving it out would
    // hide exactly the worst latencies, so it is recorded as that wait.
    while (!c.plan_done) {
        int64_t due = due_of(c);
        if (due >= tl_.measure_start) {
            stats_.unsent++;
            stats_.latency.record(drain_end - due);
        }
        advance_plan(c);
    }
}

int64_t Worker::due_of(const Conn& c) const {
    return tl_.start + static_cast<int64_t>(c.next_due);
}

void Worker::advance_plan(Conn& c) {
    c.next_due += config_.arrival == Arrival::kPoisson ? gap_(rng_) : interval_ns_;
    if (due_of(c) >= tl_.measure_end) c.plan_done = true;
}

void Worker::schedule(Conn& c, int64_t now) {
    if (!running_ || c.plan_done) return;
    // Past the window, only sends that are merely a little late still go: a
    // backlog left by a server that fell behind stays unsent (recorded so, from
    // its intended time to the end of the drain) instead of stretching the drain.
    if (now >= tl_.measure_end + config_.max_lateness.count()) return;
    // Sends already due go now (late, and counted as such); the next one waits in
    // the heap for the timer.
    while (can_send(c) && due_of(c) <= now) {
        start_request(c, due_of(c), now);
        advance_plan(c);
        if (c.plan_done) return;
        now = now_ns();
    }
    if (can_send(c) && !c.in_heap) {
        c.in_heap = true;
        heap_.push({due_of(c), static_cast<uint32_t>(&c - conns_.data()), ++c.heap_gen});
    }
}

void Worker::run_due(int64_t now) {
    while (!heap_.empty() && heap_.top().when <= now) {
        Due d = heap_.top();
        heap_.pop();
        Conn& c = conns_[d.conn];
        if (d.gen != c.heap_gen || !c.in_heap) continue;  // superseded
        c.in_heap = false;
        schedule(c, now_ns());
        if (c.state == State::kOpen) flush(c);
    }
}

}  // namespace pb::loadgen
