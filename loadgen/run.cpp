#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <latch>
#include <memory>
#include <thread>

#include "clock.hpp"
#include "loadgen.hpp"
#include "worker.hpp"

namespace pb::loadgen {
namespace {

// The timeline starts this long after the start barrier releases: the threads
// wake from the latch at slightly different moments, and none may begin its plan
// before another is ready.
constexpr int64_t kStartDelayNs = 2'000'000;

void pin_to(int cpu) {
#ifdef __linux__
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    // Best effort: a CPU outside the process's mask just leaves the thread unpinned.
    ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set);
#else
    (void)cpu;
#endif
}

// Each connection needs a descriptor; the default soft limit (often 1024) would
// turn -c 5000 into thousands of connect errors. Raise it as far as the hard limit
// allows; past that, the failures are counted as usual.
void raise_fd_limit(int connections) {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    rlim_t want = static_cast<rlim_t>(connections) + 256;
    if (rl.rlim_cur >= want) return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? want : std::min(want, rl.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &rl);
}

}  // namespace

Result run(const Config& config, const std::atomic<bool>* stop) {
    return run(config, stop, {});
}

Result run(const Config& config, const std::atomic<bool>* stop,
           const std::function<void(const Timeline&)>& on_timeline) {
    validate(config);
    raise_fd_limit(config.connections);
    Endpoint endpoint = resolve(config.host, config.port);
    int threads = std::min(config.threads, config.connections);

    // Connections are split exactly: the first (c mod t) threads take one more.
    std::vector<std::unique_ptr<Worker>> workers;
    int first = 0;
    for (int i = 0; i < threads; ++i) {
        int count = config.connections / threads + (i < config.connections % threads ? 1 : 0);
        workers.push_back(std::make_unique<Worker>(config, endpoint, i, first, count));
        first += count;
    }

    Result result;
    result.config = config;
    result.threads = threads;
    result.started_at = utc_now();
    result.hosts.push_back(HostInfo::current());
    result.target_rps = config.rate;

    Timeline timeline;
    // The start barrier: every thread brings its connections up (one verified
    // round trip each) and arrives here; up connections wait idle until all have
    // arrived, so the window never runs with connections a slow acceptor has not
    // reached yet.
    const int64_t bringup_start = now_ns();
    const int64_t bringup_deadline = bringup_start + config.bringup_timeout.count();
    std::latch connected(threads);
    std::latch go(1);
    std::vector<std::exception_ptr> failures(static_cast<size_t>(threads));
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i) {
        pool.emplace_back([&, i] {
            auto idx = static_cast<size_t>(i);
            if (!config.cpus.empty()) pin_to(config.cpus[idx % config.cpus.size()]);
            bool counted = false;
            try {
                workers[idx]->bring_up(bringup_deadline, stop);
                connected.count_down();
                counted = true;
                go.wait();
                workers[idx]->run(timeline, stop);
            } catch (...) {
                failures[idx] = std::current_exception();
                if (!counted) connected.count_down();
                if (counted) return;
                go.wait();
            }
        });
    }
    connected.wait();
    const int64_t released = now_ns();
    // The threads wait on `go`: their up counts are settled. The open-loop plan
    // is spread over the connections that came up.
    int total_up = 0;
    for (const auto& w : workers) total_up += w->up_connections();
    int first_up = 0;
    for (const auto& w : workers) {
        w->set_plan_share(first_up, total_up);
        first_up += w->up_connections();
    }
    if (!config.connect_per_request) {
        Bringup b;
        b.connections = config.connections;
        b.up = total_up;
        b.seconds = static_cast<double>(released - bringup_start) / 1e9;
        result.bringup = b;
    }
    timeline.start = released + kStartDelayNs;
    // One reading of both clocks maps wall-clock instants onto the steady clock.
    const int64_t realtime_offset = realtime_ns() - now_ns();
    if (config.start_at) {
        auto at = static_cast<int64_t>(std::llround(*config.start_at * 1e9)) - realtime_offset;
        timeline.start = std::max(timeline.start, at);
    }
    timeline.measure_start = timeline.start + config.warmup.count();
    timeline.measure_end = timeline.measure_start + config.duration.count();
    timeline.drain_end = timeline.measure_end + config.timeout.count();
    result.timeline = timeline;
    go.count_down();  // publishes `timeline` and the plan shares to the threads
    if (on_timeline) on_timeline(timeline);
    for (auto& t : pool) t.join();
    for (auto& f : failures)
        if (f) std::rethrow_exception(f);

    for (const auto& w : workers) result.stats.add(w->stats());
    // After a stop each thread ended its window where it noticed (within one loop
    // pass, at most 10 ms apart); the longest of them is the run's window.
    int64_t window = 0;
    for (const auto& w : workers) window = std::max(window, w->window_ns());
    result.duration_s = static_cast<double>(window) / 1e9;
    int64_t opened = 0;
    for (const auto& w : workers)
        if (w->window_opened_at() != 0 && (opened == 0 || w->window_opened_at() < opened))
            opened = w->window_opened_at();
    if (opened != 0) result.window_start = static_cast<double>(opened + realtime_offset) / 1e9;
    return result;
}

int exit_status(const Result& result) {
    return result.has_errors() && !result.config.allow_errors ? 1 : 0;
}

}  // namespace pb::loadgen
