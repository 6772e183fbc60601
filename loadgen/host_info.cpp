// HostInfo::current(): the machine a run ran on, as the record names it.
#include <sys/utsname.h>
#include <unistd.h>

#include <fmt/format.h>

#include <fstream>
#include <string>
#include <thread>

#include "result.hpp"

namespace pb::loadgen {
namespace {

std::string read_cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("model name", 0) == 0) {
            auto colon = line.find(':');
            if (colon != std::string::npos) {
                auto v = line.substr(colon + 1);
                v.erase(0, v.find_first_not_of(' '));
                return v;
            }
        }
    }
    return "";
}

}  // namespace

HostInfo HostInfo::current() {
    HostInfo h;
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) == 0) h.hostname = name;
    utsname u{};
    if (::uname(&u) == 0) h.kernel = fmt::format("{} {}", u.sysname, u.release);
    h.cpu_model = read_cpu_model();
    h.cpus = static_cast<int>(std::thread::hardware_concurrency());
    return h;
}

}  // namespace pb::loadgen
