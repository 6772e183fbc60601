// One load generator thread: its own Poller, its share of the connections, its
// own RunStats. Nothing here is shared with another Worker while it runs.
//
// Thread rules: construct anywhere; connect() and run() must be called in the
// worker's thread; stats() may be read after that thread has been joined.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <queue>
#include <random>
#include <vector>

#include "buffer.hpp"
#include "client_socket.hpp"
#include "clock.hpp"
#include "config.hpp"
#include "poller.hpp"
#include "reply_parser.hpp"
#include "request_builder.hpp"
#include "result.hpp"
#include "run_stats.hpp"

namespace pb::loadgen {

class Worker {
public:
    // Connections [first_connection, first_connection + count) of `total`.
    Worker(const Config& config, const Endpoint& endpoint, int index, int first_connection,
           int count);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    // The start barrier's part in this thread (keep-alive modes): opens every
    // connection and makes one verified, unmeasured round trip on each, until all
    // are up or have failed, or until `deadline`. Connections then wait idle for
    // run(); those not up by the deadline are closed and stay out of the run
    // (not counted as errors; real failures on the way are). With
    // --connect-per-request every connection counts as up and nothing is opened.
    // `stop` (may be null): once true, the barrier gives up as at the deadline.
    void bring_up(int64_t deadline, const std::atomic<bool>* stop);
    int up_connections() const;
    int connection_count() const { return static_cast<int>(conns_.size()); }
    // Open loop: the plan is spread over the connections that came up, all
    // threads together; this thread's first one is number `first_up` of `total_up`.
    // Call between bring_up() and run().
    void set_plan_share(int first_up, int total_up);
    // `stop` (may be null): once true, the window ends where it is.
    void run(const Timeline& timeline, const std::atomic<bool>* stop);
    // The window this thread actually measured, ns (shorter than planned after a stop).
    int64_t window_ns() const { return tl_.measure_end - tl_.measure_start; }
    // When this thread opened its window (steady ns; 0 if it never did).
    int64_t window_opened_at() const { return window_opened_at_; }
    const RunStats& stats() const { return stats_; }

private:
    struct InFlight {
        uint64_t id;
        int64_t intended;  // the plan's send time (open loop), else the send time
        int64_t sent;      // when it was written (connect-per-request: connect() call)
        bool slow;
        bool measured;  // intended inside the measured window
    };

    enum class State : uint8_t { kClosed, kConnecting, kOpen };

    struct Conn {
        int number = 0;  // global index, part of every frame id
        State state = State::kClosed;
        bool up = false;    // passed the start barrier: takes part in the run
        int plan_slot = 0;  // open loop: its phase among the connections that are up
        UniqueFd fd;
        uint32_t interest = 0;       // what the poller watches for this fd
        Buffer out;                  // bytes the socket did not take yet
        std::vector<InFlight> ring;  // requests in flight, oldest at head
        size_t head = 0;
        size_t count = 0;
        FrameReplyParser frame;
        HttpResponseParser http;
        uint64_t next_seq = 0;
        int64_t connect_start = 0;
        bool first_byte_seen = false;
        int64_t retry_at = 0;  // reconnect not before (after an error)
        int64_t backoff = 0;   // ns; doubles per failure, reset by a good reply
        TcpCounters tcp_base;  // counters at the start of the window
        bool tcp_counted = false;
        // Open loop.
        double next_due = 0.0;    // ns since timeline.start; double so the plan never drifts
        bool plan_done = false;   // next_due is past the window
        int64_t ready_since = 0;  // when it last became able to send
        uint64_t heap_gen = 0;
        bool in_heap = false;

        InFlight& front() { return ring[head]; }
        void push(const InFlight& f) {
            ring[(head + count) % ring.size()] = f;
            ++count;
        }
        void pop() {
            head = (head + 1) % ring.size();
            --count;
        }
    };

    struct Due {
        int64_t when;
        uint32_t conn;
        uint64_t gen;
        bool operator>(const Due& o) const { return when > o.when; }
    };

    // The loop (worker.cpp).
    int poll_once(int64_t now);  // the events handled
    void open_window(int64_t now);
    void close_window();
    void finish();
    void housekeeping(int64_t now);
    void arm_timer(int64_t when, int64_t now);
    bool bringup_pending() const;  // start barrier
    void abandon_bringup(Conn& c);

    // Connections and replies (worker_conn.cpp).
    void open(Conn& c, int64_t now);
    void on_connected(Conn& c, int64_t now);
    void revive(Conn& c, int64_t now);  // reopen a closed keep-alive connection when due
    void close_conn(Conn& c, bool reset);
    void fail(Conn& c, ErrorClass e, const std::string& detail);
    void snapshot_tcp(Conn& c);
    void count_tcp(Conn& c);
    void set_interest(Conn& c, uint32_t mask);
    void on_event(Conn& c, uint32_t mask);
    void on_readable(Conn& c);
    // recv_delay_ns: the read's generator receive delay, -1 when unknown.
    void parse(Conn& c, const uint8_t* data, size_t len, int64_t now, int64_t recv_delay_ns);
    void complete(Conn& c, int64_t now, int64_t recv_delay_ns);
    // A reply with a well-formed id other than the one due: reordered or duplicate?
    void count_out_of_order(const Conn& c, uint64_t id);

    // Sending requests (worker_send.cpp).
    bool can_send(const Conn& c) const;
    void start_request(Conn& c, int64_t intended, int64_t now);
    void write_request(Conn& c, const InFlight& f);  // per config_.write_mode
    void flush(Conn& c);
    void top_up(Conn& c, int64_t now);  // closed loop: refill the pipeline

    // Open-loop plan (worker_plan.cpp).
    void start_plan(int64_t now);
    void record_unsent(Conn& c, int64_t drain_end);
    int64_t due_of(const Conn& c) const;
    void advance_plan(Conn& c);
    void schedule(Conn& c, int64_t now);
    void run_due(int64_t now);

    bool measuring(int64_t t) const { return t >= tl_.measure_start && t < tl_.measure_end; }
    bool finished(int64_t now) const;

    const Config& config_;
    const Endpoint& endpoint_;
    const int index_;
    const size_t cap_;  // requests in flight per connection
    RequestBuilder builder_;
    Poller poller_;
    UniqueFd timer_fd_;
    int64_t timer_armed_ = -1;
    std::vector<Conn> conns_;
    std::vector<int32_t> by_fd_;  // fd -> index in conns_, -1 when not ours
    std::vector<uint8_t> read_buf_;
    std::vector<uint8_t> scratch_;
    std::priority_queue<Due, std::vector<Due>, std::greater<>> heap_;
    std::mt19937_64 rng_;
    std::exponential_distribution<double> gap_;
    std::uniform_real_distribution<double> unit_{0.0, 1.0};
    double interval_ns_ = 0.0;  // mean gap between sends of one connection
    int first_up_ = 0;          // open loop: set_plan_share()
    int total_up_ = 0;
    Timeline tl_;
    bool bringing_up_ = false;  // in bring_up(): a reply marks its connection up
    bool running_ = false;      // false until run(): no requests but bring-up probes
    bool window_open_ = false;
    bool window_closed_ = false;
    size_t in_flight_ = 0;  // over all connections
    int64_t window_opened_at_ = 0;
    int64_t cpu_at_start_ = 0;  // thread CPU time when the window opened
    int64_t idle_ns_ = 0;       // --busy-poll: window time spent in empty polls
    uint64_t bytes_read_at_start_ = 0;
    uint64_t bytes_written_at_start_ = 0;
    int64_t next_housekeeping_ = 0;
    RunStats stats_;
    uint64_t bytes_read_ = 0;  // whole run; the window's share is taken at its edges
    uint64_t bytes_written_ = 0;
};

}  // namespace pb::loadgen
