// server-worker-queue: a single listener/acceptor/reader with message load
// balancing over a pool of workers.
//
//   main thread (I/O loop): accept, read, parse ─push─> [bounded queue] ─pop─> worker 0..N-1
//          ^                                                                   work, build reply
//          └──────────────── post(complete): eventfd wake-up ──────────────────────┘
//
// Costs: two hand-offs per request (into the queue, back through post), each a
// lock and often a wake-up, so cheap requests are slower than on server-single,
// and the one I/O thread caps throughput. In return a slow request occupies a
// worker, not the loop: other clients are served while up to N requests spin
// or sleep. A full queue makes the loop stop reading that connection, so the
// client's TCP window pushes back instead of our memory growing. Node.js (the
// libuv thread pool behind one loop), nginx thread pools and Tomcat's NIO
// poller + executor split the work this way.
#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "loop_thread.hpp"
#include "server.hpp"
#include "shutdown.hpp"
#include "socket.hpp"

namespace {

struct Job {
    pb::Reactor::ConnRef conn;
    pb::Request request;
};

// The bounded hand-off between the loop and the workers. A mutex is fine here:
// the loop holds it for a push, never while waiting, and the workers block on
// the condition variable, not the loop.
class JobQueue {
public:
    explicit JobQueue(size_t depth) : depth_(depth) {}

    // Loop thread. False when full: the loop holds the request back, stops
    // reading that connection and offers it again on retry_dispatch().
    // `stats` are the loop's: the notify is its hand-off.
    bool try_push(const Job& job, pb::ThreadStats& stats) {
        std::lock_guard lock(mutex_);
        if (jobs_.size() >= depth_) {
            loop_waiting_ = true;
            return false;
        }
        jobs_.push_back(job);
        high_water_ = std::max(high_water_, jobs_.size());
        ready_.notify_one();
        stats.count(pb::Syscall::kWakeup);  // futex() only if a worker waits
        return true;
    }

    // Worker threads. Blocks for a job; nullopt once closed. `freed_for_loop`
    // says the loop was refused since the last pop and should retry. Each
    // time it has to sleep counts as a wake-up in the worker's `stats`.
    std::optional<Job> pop(bool& freed_for_loop, pb::ThreadStats& stats) {
        std::unique_lock lock(mutex_);
        while (!closed_ && jobs_.empty()) {
            stats.count(pb::Syscall::kWakeup);
            ready_.wait(lock);
        }
        if (closed_) return std::nullopt;  // the loop is gone: nobody wants the rest
        Job job = std::move(jobs_.front());
        jobs_.pop_front();
        freed_for_loop = std::exchange(loop_waiting_, false);
        return job;
    }

    void close() {
        std::lock_guard lock(mutex_);
        closed_ = true;
        ready_.notify_all();
    }

    size_t high_water() {
        std::lock_guard lock(mutex_);
        return high_water_;
    }

private:
    const size_t depth_;
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<Job> jobs_;
    size_t high_water_ = 0;
    bool loop_waiting_ = false;
    bool closed_ = false;
};

// Worker thread: runs requests and hands each reply back to the loop.
void work(JobQueue& queue, pb::EventLoop& loop, pb::Reactor& reactor, pb::ThreadStats& stats) {
    bool freed_for_loop = false;
    while (auto job = queue.pop(freed_for_loop, stats)) {
        if (freed_for_loop && loop.post([&reactor] { reactor.retry_dispatch(); }))
            stats.count(pb::Syscall::kWakeup);
        pb::execute(job->request);
        pb::Buffer reply;
        pb::write_reply(job->request, reply);
        ++stats.requests;
        bool woke = loop.post([&reactor, conn = job->conn, reply = std::move(reply)]() mutable {
            reactor.complete(conn, std::move(reply));
        });
        if (woke) stats.count(pb::Syscall::kWakeup);
    }
}

int run(int argc, char** argv) {
    // Options.
    pb::ServerOptions options;
    size_t queue_depth = 1024;
    CLI::App app{"server-worker-queue: one I/O loop feeds N workers through a bounded queue"};
    pb::add_server_options(app, options);
    app.add_option("--queue-depth", queue_depth,
                   "Requests waiting for a worker; beyond it the loop stops reading")
        ->check(CLI::Range(size_t{1}, size_t{1} << 20))
        ->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    pb::finish_server_options(options);

    // Listen. Only this thread opens descriptors, so the reserve-fd trick is safe.
    pb::UniqueFd listener = pb::listen_tcp({.host = options.host,
                                            .port = options.port,
                                            .backlog = options.backlog,
                                            .fastopen = options.fastopen});
    pb::LoopThread main_loop(options);
    std::vector<pb::ThreadStats> worker_stats(options.threads);
    std::vector<pb::StatsRegistration> registered;
    registered.emplace_back(main_loop.stats);
    for (auto& s : worker_stats) {
        s.role = "worker";
        registered.emplace_back(s);
    }
    JobQueue queue(queue_depth);
    main_loop.reactor.set_dispatcher([&](pb::Reactor::ConnRef conn, const pb::Request& request) {
        return queue.try_push({conn, request}, main_loop.stats);
    });
    main_loop.reactor.listen_on(listener.get(), 0, pb::Reactor::FdLimitPolicy::kReserveFd);
    pb::ShutdownSignal shutdown(main_loop.loop, [&] { main_loop.post_shutdown(); });
    pb::announce_listening(options, pb::local_port(listener.get()));

    // Spawn the workers.
    std::vector<std::thread> workers;
    for (auto& s : worker_stats)
        workers.emplace_back(work, std::ref(queue), std::ref(main_loop.loop),
                             std::ref(main_loop.reactor), std::ref(s));
    uint64_t peak_threads = pb::current_thread_count();

    // Run: this thread does all the I/O, and takes the signals, until SIGTERM
    // drains the loop. The workers keep serving meanwhile, so a full queue
    // empties and every request in flight gets its reply.
    main_loop.run();

    // Shut down: replies still posted are dropped with the loop, unrun.
    queue.close();
    for (auto& w : workers) w.join();
    main_loop.stats.queue_high_water = queue.high_water();
    std::vector<pb::ThreadStats> stats{main_loop.stats};
    stats.insert(stats.end(), worker_stats.begin(), worker_stats.end());
    pb::write_stats_if_requested(options, "worker-queue", stats, peak_threads);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return pb::guarded_main("server-worker-queue", run, argc, argv);
}
