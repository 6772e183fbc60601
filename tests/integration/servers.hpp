// The pattern servers the conformance suite runs against. Each new pattern
// server is added here and nowhere else.
#pragma once

#include <string>
#include <vector>

namespace pbtest {

inline const std::vector<std::string>& all_servers() {
    static const std::vector<std::string> servers = {
#ifndef PB_TSAN_BUILD
        // Single-threaded: nothing for ThreadSanitizer to find.
        "server-single",
#endif
        "server-thread-per-conn",
        "server-worker-queue",
        "server-multi-accept",
        "server-reuseport",
        "server-reactor-pool",
    };
    return servers;
}

}  // namespace pbtest
