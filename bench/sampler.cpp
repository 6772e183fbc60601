#include "sampler.hpp"

#include <signal.h>

#include <algorithm>
#include <cstdlib>

#include "clock.hpp"
#include "files.hpp"

namespace pb::bench {

std::chrono::nanoseconds sampler_period(std::chrono::nanoseconds window) {
    return std::clamp<std::chrono::nanoseconds>(window / 20, std::chrono::milliseconds(20),
                                                std::chrono::milliseconds(100));
}

Sampler::Sampler(const Options& options)
    : options_(options), kthreads_(kernel_thread_pids()), thread_([this] { run(); }) {}

Sampler::~Sampler() {
    finish();
}

std::vector<Tick> Sampler::finish() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    return std::move(ticks_);
}

void Sampler::window(int64_t begin_ns, int64_t end_ns) {
    end_ns_.store(end_ns, std::memory_order_relaxed);
    begin_ns_.store(begin_ns, std::memory_order_release);
}

// The ticks account_window() may pick as edges: the one that asked for the
// window's first snapshot (sent less than a period after the window opened,
// or just before it with the snapshot landing inside) and the one that asked
// for its last (sent in the window's last period). Without a known window,
// every tick is near an edge.
bool Sampler::near_edge(int64_t t_ns, int periods) const {
    const int64_t begin = begin_ns_.load(std::memory_order_acquire);
    const int64_t end = end_ns_.load(std::memory_order_relaxed);
    if (begin < 0) return true;
    const int64_t period = options_.period.count();
    return (t_ns >= begin - period / 2 && t_ns <= begin + periods * period) ||
           (t_ns >= end - periods * period && t_ns <= end);
}

Tick Sampler::take() {
    Tick t;
    t.sent_ns = now_ns();
    if (options_.signal_server) ::kill(options_.pid, SIGUSR1);
    t.cpu = read_cpu_times();
    t.self_cpu_us = self_cpu_us();
    t.self_wait_us = self_runqueue_wait_us();
    const bool edge = near_edge(t.sent_ns);
    if (!options_.process_group) {
        t.proc = read_proc(options_.pid);
    } else if (!options_.server_cgroup_procs.empty() || near_edge(t.sent_ns, 2)) {
        // A process group: listed from its cgroup, a few small files a tick; the
        // threads' context switches only near the edges. Without the cgroup the
        // listing is a walk of /proc, taken near the edges only (two periods wide,
        // for a late tick); elsewhere the reading is not ok, and account_window()
        // skips it.
        t.proc = read_group(options_.pid, options_.server_cgroup_procs, near_edge(t.sent_ns, 2));
    }
    if (!options_.server_cgroup_usage.empty()) {
        std::string ns = slurp(options_.server_cgroup_usage);
        if (!ns.empty()) t.server_cgroup_us = std::strtod(ns.c_str(), nullptr) / 1e3;
    }
    if (options_.segments) t.segments = server_socket_segments(options_.port);
    t.listen = listen_queues(options_.port);
    if (edge) {  // readings only account_window()'s two edge ticks use
        t.tcp_ext = read_tcp_ext();
        t.kthread_us = kernel_threads_cpu_us(kthreads_);
    }
    t.cost_ns = now_ns() - t.sent_ns;
    return t;
}

void Sampler::run() {
    ticks_.reserve(512);
    auto next = std::chrono::steady_clock::now();
    std::unique_lock lock(mutex_);
    for (;;) {
        lock.unlock();
        ticks_.push_back(take());
        lock.lock();
        if (stopping_) return;
        next += options_.period;
        cv_.wait_until(lock, next, [this] { return stopping_; });
    }
}

}  // namespace pb::bench
