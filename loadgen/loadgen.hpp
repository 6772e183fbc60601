// The load generator as a library: the bench harness and the `loadgen` command
// both go through here.
//
//   pb::loadgen::Config config = pb::loadgen::parse_args({"127.0.0.1:8080", "-c", "64"});
//   pb::loadgen::Result result = pb::loadgen::run(config);
//   std::string json = pb::loadgen::to_json(result);
//
// run() blocks for the start barrier (at most --bringup-timeout), then warm-up +
// duration (+ a drain of at most --timeout), using
// config.threads threads of its own, each with its own epoll loop and its share
// of the connections; their stats are merged after join. Setup failures (a host
// that does not resolve, no epoll) throw; everything that goes wrong with a
// connection or a reply is counted in Result::stats.errors instead. It raises the
// process's RLIMIT_NOFILE soft limit when the connections need more descriptors.
#pragma once

#include <atomic>
#include <functional>

#include "config.hpp"
#include "histogram.hpp"
#include "result.hpp"
#include "run_stats.hpp"

namespace pb::loadgen {

// `stop` (may be null; any thread may set it): once true, the measured window
// ends early (noticed within 10 ms), in-flight requests drain, and the Result
// covers the window that actually ran.
Result run(const Config& config, const std::atomic<bool>* stop = nullptr);

// As above; `on_timeline` (may be empty) is called once, in the caller's thread,
// as soon as the start barrier has released and the timeline is fixed, about 2 ms
// before the load starts: a harness that acts at the window's edges reads them
// here, since the bring-up takes a time nobody can know in advance.
Result run(const Config& config, const std::atomic<bool>* stop,
           const std::function<void(const Timeline&)>& on_timeline);

// The command's exit status for a finished run: 0, or 1 when requests failed
// and config.allow_errors is off.
int exit_status(const Result& result);

}  // namespace pb::loadgen
