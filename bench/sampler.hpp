// The harness's side of server accounting: a thread that, every `period`,
// asks the server for a snapshot (SIGUSR1) and takes the cheap machine-wide
// readings of a Tick. It runs at normal priority on the client CPUs beside the
// load generator, and each tick costs the generator tens of microseconds
// (one kill(2), a few small /proc files, a sock_diag dump of the server's
// listeners; the Nagle cases add one of its connections). The readings only
// the window's edges need, the kernel threads' CPU (a small file per kernel
// thread, listed once by the constructor) and the TCP counters, are taken only
// on the ticks that can be the window's edges, once window() has told where
// they are. The tick's own cost
// is recorded in it.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "window.hpp"

namespace pb::bench {

class Sampler {
public:
    struct Options {
        pid_t pid = -1;
        uint16_t port = 0;
        bool signal_server = true;        // false: a server that does not take SIGUSR1
        bool segments = false;            // read the server's sockets through sock_diag
        std::string server_cgroup_usage;  // ServerChild::cgroup_usage_path(), may be empty
        // An external server: `pid` leads a process group, read whole (read_group)
        // and only on the ticks that can be the window's edges.
        bool process_group = false;
        std::string server_cgroup_procs;  // ServerChild::cgroup_procs_path(), may be empty
        std::chrono::nanoseconds period{std::chrono::milliseconds(50)};
    };
    explicit Sampler(const Options& options);
    ~Sampler();
    Sampler(const Sampler&) = delete;
    Sampler& operator=(const Sampler&) = delete;

    // Any thread: the measured window, steady clock, once it is known.
    void window(int64_t begin_ns, int64_t end_ns);

    // Stops the thread (after one last tick) and hands over every tick.
    std::vector<Tick> finish();

private:
    void run();
    Tick take();
    bool near_edge(int64_t t_ns, int periods = 1) const;

    Options options_;
    std::vector<pid_t> kthreads_;  // before thread_: listed before the first tick
    std::atomic<int64_t> begin_ns_{-1};
    std::atomic<int64_t> end_ns_{-1};
    std::mutex mutex_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::vector<Tick> ticks_;
    std::thread thread_;  // last: starts after the members it uses exist
};

// The tick period for a window: a snapshot every 1/20 of it, 20-100 ms, so the
// two snapshots that bound the accounted window lose at most a tenth of it.
std::chrono::nanoseconds sampler_period(std::chrono::nanoseconds window);

}  // namespace pb::bench
