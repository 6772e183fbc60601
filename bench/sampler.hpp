// The harness's side of server accounting: a thread that, every `period`,
// asks the server for a snapshot (SIGUSR1) and takes the cheap machine-wide
// readings of a Tick. It runs at normal priority on the client CPUs beside the
// load generator, and each tick costs the generator tens of microseconds
// (one kill(2), two small /proc files; the Nagle cases add one sock_diag
// dump of a handful of sockets). The tick's own cost is recorded in it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "window.hpp"

namespace pb::bench {

class Sampler {
public:
    struct Options {
        pid_t pid = -1;
        uint16_t port = 0;
        bool signal_server = true;  // false: a server that does not take SIGUSR1
        bool segments = false;      // read the server's sockets through sock_diag
        std::chrono::nanoseconds period{std::chrono::milliseconds(50)};
    };
    explicit Sampler(const Options& options);
    ~Sampler();
    Sampler(const Sampler&) = delete;
    Sampler& operator=(const Sampler&) = delete;

    // Stops the thread (after one last tick) and hands over every tick.
    std::vector<Tick> finish();

private:
    void run();
    Tick take();

    Options options_;
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
