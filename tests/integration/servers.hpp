// The pattern servers the conformance and fault suites run against: every
// line of servers/patterns.txt (through the generated patterns.hpp) whose
// server takes clients concurrently. Those suites hold several connections
// open at once (a slow client beside a fast one, a flood beside a probe), which
// a server that serves one connection at a time (server-iterative, "serial")
// cannot answer by design: it has its own suite, test_iterative.cpp, with the
// cases that apply to it. A server this machine cannot run (--check-available
// exits 69: server-uring without io_uring) is left out, and the reason printed.
#pragma once

#include <string>
#include <vector>

#include "patterns.hpp"
#include "server_process.hpp"

namespace pbtest {

inline const std::vector<std::string>& all_servers() {
    static const std::vector<std::string> servers = [] {
        std::vector<std::string> out;
        for (const auto& p : pb::kPatterns) {
            if (!pb::serves_concurrently(p)) continue;
#ifdef PB_TSAN_BUILD
            // Single-threaded: nothing for ThreadSanitizer to find.
            if (p.threads == pb::Threads::kSingle) continue;
#endif
            if (skip_unavailable(pb::server_binary(p))) continue;
            out.push_back(pb::server_binary(p));
        }
        return out;
    }();
    return servers;
}

}  // namespace pbtest
