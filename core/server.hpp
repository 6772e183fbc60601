// The few steps every server's main() shares, kept here so that the server
// files show threading and nothing else.
#pragma once

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

// Runs `body`, turning an escaping exception into "<name>: <what>" on stderr and
// exit status 1: setup failures are fatal and name the syscall.
int guarded_main(const char* name, int (*body)(int, char**), int argc, char** argv);

}  // namespace pb
