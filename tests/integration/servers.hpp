// The pattern servers the conformance and fault suites run against: every
// line of servers/patterns.txt (through the generated patterns.hpp).
#pragma once

#include <string>
#include <vector>

#include "patterns.hpp"

namespace pbtest {

inline const std::vector<std::string>& all_servers() {
    static const std::vector<std::string> servers = [] {
        std::vector<std::string> out;
        for (const auto& p : pb::kPatterns) {
#ifdef PB_TSAN_BUILD
            // Single-threaded: nothing for ThreadSanitizer to find.
            if (p.threads == pb::Threads::kSingle) continue;
#endif
            out.push_back(pb::server_binary(p));
        }
        return out;
    }();
    return servers;
}

}  // namespace pbtest
