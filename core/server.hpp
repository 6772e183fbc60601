// The few steps every server's main() shares, kept here so that the server
// files show threading and nothing else.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "options.hpp"
#include "stats.hpp"

namespace pb {

// The server is ready. With --stats-file, opens "<stats-file>.snapshots" so
// that SIGUSR1 appends a snapshot to it from now on (register every thread's
// stats before this); then prints the one line tools and tests wait for,
// "listening HOST:PORT", and flushes it.
void announce_listening(const ServerOptions& options, uint16_t port);

// Writes --stats-file, when given. `pattern` names the server ("single", ...).
void write_stats_if_requested(const ServerOptions& options, const char* pattern,
                              const std::vector<ThreadStats>& threads, uint64_t peak_threads);

// The exit status of a server that cannot run on this machine at all (io_uring
// missing or forbidden, for server-uring): sysexits.h's EX_UNAVAILABLE. The bench
// marks the pattern "not available on this machine" and goes on; tests skip it.
inline constexpr int kExitUnavailable = 69;

// Thrown by a server before it listens when this machine cannot run it; what()
// is the reason, one line. guarded_main() prints
// "<name>: not available on this machine: <reason>" and exits kExitUnavailable.
struct Unavailable : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Runs `body`, turning an escaping exception into "<name>: <what>" on stderr and
// exit status 1: setup failures are fatal and name the syscall.
int guarded_main(const char* name, int (*body)(int, char**), int argc, char** argv);

}  // namespace pb
