#include "patterns_support.hpp"

#include <fstream>
#include <regex>
#include <sstream>

#include "client.hpp"
#include "server_process.hpp"

namespace pbtest::patterns {

std::string describe(const Variant& v) {
    std::string s = v.binary;
    for (const auto& a : v.args) s += " " + a;
    return s;
}

const std::vector<Variant>& threaded_variants() {
    static const std::vector<Variant> variants = {
        {"server-thread-per-conn", {}},
        {"server-worker-queue", {"--threads", "2"}},
        {"server-multi-accept", {"--threads", "2", "--accept-mode", "exclusive"}},
        {"server-multi-accept", {"--threads", "2", "--accept-mode", "herd"}},
        {"server-multi-accept", {"--threads", "2", "--accept-mode", "blocking"}},
        {"server-reuseport", {"--threads", "2"}},
        {"server-reactor-pool", {"--threads", "2"}},
    };
    // A server this machine cannot run is left out, its reason printed once.
    static const std::vector<Variant> here = [] {
        std::vector<Variant> out;
        for (const auto& v : variants)
            if (!skip_unavailable(v.binary)) out.push_back(v);
        return out;
    }();
    return here;
}

std::vector<Variant> every_variant() {
    std::vector<Variant> all = threaded_variants();
#ifndef PB_TSAN_BUILD
    all.insert(all.begin(), Variant{"server-single", {}});
#endif
    return all;
}

std::vector<std::string> with(std::vector<std::string> args, std::vector<std::string> more) {
    args.insert(args.end(), more.begin(), more.end());
    return args;
}

uint64_t StatsFile::sum(const std::string& key) const {
    uint64_t s = 0;
    for (const auto& t : threads) s += t.n.at(key);
    return s;
}

namespace {

StatsFile::Entry parse_entry(const std::string& text) {
    StatsFile::Entry e;
    static const std::regex number("\"(\\w+)\": (\\d+)");
    static const std::regex role("\"role\": \"(\\w+)\"");
    for (std::sregex_iterator it(text.begin(), text.end(), number), end; it != end; ++it)
        e.n[(*it)[1]] = std::stoull((*it)[2]);
    std::smatch m;
    if (std::regex_search(text, m, role)) e.role = m[1];
    return e;
}

}  // namespace

StatsFile read_stats(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    std::string text = ss.str();
    StatsFile s;
    size_t threads_at = text.find("\"threads\": [");
    size_t total_at = text.find("\"total\": ");
    if (threads_at == std::string::npos || total_at == std::string::npos) return s;
    // Split the array into its top-level objects by brace depth.
    int depth = 0;
    size_t start = 0;
    for (size_t i = threads_at; i < total_at; ++i) {
        if (text[i] == '{' && depth++ == 0) start = i;
        if (text[i] == '}' && --depth == 0)
            s.threads.push_back(parse_entry(text.substr(start, i - start + 1)));
    }
    s.total = parse_entry(text.substr(total_at));
    std::smatch m;
    if (std::regex_search(text, m, std::regex("\"peak_threads\": (\\d+)")))
        s.peak_threads = std::stoull(m[1]);
    s.ok = !s.threads.empty();
    return s;
}

bool round_trip(int fd, uint64_t id, uint32_t size) {
    send_all(fd, frame_request({.id = id, .body_len = size, .reply_len = size}));
    return !read_verified_reply(fd, id, size).has_value();
}

}  // namespace pbtest::patterns
