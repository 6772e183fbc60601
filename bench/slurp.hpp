// A whole (small) file as a string; empty when it cannot be read.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

namespace pb::bench {

inline std::string slurp(const std::string& path) {
    std::ifstream f(path);
    if (!f) return {};
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

}  // namespace pb::bench
