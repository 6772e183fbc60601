#include "options.hpp"

#include <sched.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <stdexcept>

namespace pb {

const char* to_string(Protocol p) {
    return p == Protocol::kFrame ? "frame" : "http";
}

Micros parse_duration(const std::string& text) {
    size_t pos = 0;
    double value = 0;
    try {
        value = std::stod(text, &pos);
    } catch (const std::exception&) {
        throw std::invalid_argument("bad duration '" + text + "' (try 500ms, 2s, 1m)");
    }
    std::string unit = text.substr(pos);
    double scale = 0;
    if (unit.empty() || unit == "s")
        scale = 1e6;
    else if (unit == "ms")
        scale = 1e3;
    else if (unit == "us")
        scale = 1;
    else if (unit == "m" || unit == "min")
        scale = 60e6;
    else if (unit == "h")
        scale = 3600e6;
    if (scale == 0 || value < 0 || !std::isfinite(value))
        throw std::invalid_argument("bad duration '" + text + "' (try 500ms, 2s, 1m)");
    return Micros(static_cast<int64_t>(std::llround(value * scale)));
}

std::string format_duration(Micros d) {
    auto us = d.count();
    if (us % 60'000'000 == 0 && us > 0) return fmt::format("{}m", us / 60'000'000);
    if (us % 1'000'000 == 0) return fmt::format("{}s", us / 1'000'000);
    if (us % 1000 == 0) return fmt::format("{}ms", us / 1000);
    return fmt::format("{}us", us);
}

namespace {

// Binds a duration flag: CLI11 hands us the text, parse_duration checks it.
void add_duration(CLI::App& app, const std::string& name, Micros& target, const std::string& help) {
    app.add_option_function<std::string>(
           name, [&target](const std::string& text) { target = parse_duration(text); }, help)
        ->default_str(format_duration(target))
        ->check([](const std::string& text) {
            try {
                parse_duration(text);
                return std::string();
            } catch (const std::invalid_argument& e) {
                return std::string(e.what());
            }
        });
}

}  // namespace

void add_server_options(CLI::App& app, ServerOptions& o) {
    app.add_option("--host", o.host, "Address to listen on (IPv4)")->capture_default_str();
    app.add_option("--port", o.port, "Port to listen on; 0 picks an ephemeral port")
        ->capture_default_str();
    std::map<std::string, Protocol> protocols{{"frame", Protocol::kFrame},
                                              {"http", Protocol::kHttp}};
    app.add_option("--protocol", o.protocol, "Wire protocol: frame or http")
        ->transform(CLI::CheckedTransformer(protocols, CLI::ignore_case))
        ->default_str("frame");
    app.add_option("--threads", o.threads,
                   "Loops or workers, where the pattern has several (default: CPUs in the "
                   "affinity mask)")
        ->check(CLI::Range(1u, 4096u));
    std::map<std::string, bool> on_off{{"on", true}, {"off", false}};
    app.add_option("--nodelay", o.nodelay, "TCP_NODELAY on accepted sockets: on or off")
        ->transform(CLI::CheckedTransformer(on_off, CLI::ignore_case))
        ->default_str("on");
    app.add_option("--backlog", o.backlog, "listen() backlog")
        ->check(CLI::Range(1, 1 << 20))
        ->capture_default_str();
    app.add_option("--fastopen", o.fastopen,
                   "TCP_FASTOPEN on the listener: accept data in the SYN, with at most this many "
                   "such connections not yet accepted (0: off; net.ipv4.tcp_fastopen must allow "
                   "it)")
        ->check(CLI::Range(0, 1 << 20))
        ->capture_default_str();
    app.add_option("--max-frame", o.max_frame,
                   "Largest frame body or reply, and largest HTTP body, in bytes")
        ->check(CLI::Range(0u, 64u << 20))
        ->capture_default_str();
    app.add_option("--max-connections", o.max_connections,
                   "Connections beyond this are accepted and closed at once")
        ->check(CLI::Range(uint64_t{1}, uint64_t{10'000'000}))
        ->capture_default_str();
    add_duration(app, "--idle-timeout", o.idle_timeout,
                 "Close a connection with no request in progress after this long");
    add_duration(app, "--header-timeout", o.header_timeout,
                 "A request must be complete this long after its first byte (slowloris guard)");
    add_duration(app, "--write-timeout", o.write_timeout,
                 "Close a connection whose peer has not read for this long");
    add_duration(app, "--shutdown-timeout", o.shutdown_timeout,
                 "On SIGTERM, wait this long for requests in flight, then close");
    app.add_option("--output-high-water", o.output_high_water,
                   "Stop reading a connection while this many reply bytes wait to be sent")
        ->check(CLI::Range(size_t{1024}, size_t{1} << 30))
        ->capture_default_str();
    app.add_option("--max-request-line", o.http.max_request_line,
                   "HTTP: longest request line (else 414)")
        ->check(CLI::Range(size_t{16}, size_t{1} << 20))
        ->capture_default_str();
    app.add_option("--max-header-bytes", o.http.max_header_bytes,
                   "HTTP: most header bytes (else 431)")
        ->check(CLI::Range(size_t{16}, size_t{1} << 20))
        ->capture_default_str();
    app.add_option("--max-headers", o.http.max_headers, "HTTP: most header lines (else 431)")
        ->check(CLI::Range(size_t{1}, size_t{10000}))
        ->capture_default_str();
    app.add_option("--stats-file", o.stats_file, "On exit, write per-thread counters here as JSON");
    app.add_flag("--check-available", o.check_available,
                 "Print 'available' and exit 0 if this pattern can run on this machine; else "
                 "print why not and exit 69 (what the bench and the tests ask before a run)");
    // A real setsockopt failure on an accepted connection (EINVAL on macOS and
    // the BSDs once the peer has reset it) cannot be provoked on Linux.
    app.add_option("--fail-setsockopt-every", o.fail_setsockopt_every,
                   "Fault injection (tests): every K-th setsockopt on an accepted connection "
                   "fails as if it returned EINVAL; 0 = never")
        ->group("Fault injection")
        ->capture_default_str();
}

void finish_server_options(ServerOptions& o) {
    if (o.check_available) {
        // A server that can be unavailable has said so before this (Unavailable).
        std::fputs("available\n", stdout);
        std::exit(0);
    }
    if (o.threads == 0) o.threads = available_cpus();
    o.http.max_body = o.max_frame;
}

unsigned available_cpus() {
#ifdef __linux__
    cpu_set_t set;
    if (::sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return static_cast<unsigned>(n);
    }
#endif
    long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? static_cast<unsigned>(n) : 1u;
}

}  // namespace pb
