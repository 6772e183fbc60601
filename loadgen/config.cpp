#include "config.hpp"

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "socket.hpp"

namespace pb::loadgen {
namespace {

constexpr const char* kHelpFooter = R"(
Closed loop (no -R): every connection keeps --pipeline requests in flight and sends
the next one as soon as a reply arrives. Throughput is whatever the server gives, and
the latency each request sees is measured; but when the server stalls, the generator
stalls with it and simply stops asking, so a 1 s freeze shows up as a handful of slow
requests instead of the thousand that real users would have queued behind it
("coordinated omission").

Open loop (-R RATE): requests are sent on a fixed plan (--arrival uniform: evenly
spaced; poisson: exponential gaps, like independent users), whatever the replies do.
Latency is measured from the time the plan said the request should go out, so a
stall costs every request that should have been sent during it. The uncorrected
latency (from the moment the request was actually written) is reported beside it,
together with how late sends ran against the plan. A run that could not follow the
plan (achieved rate under 99% of -R, p99 send lateness above --max-lateness, or a
generator thread busy over 90% of the time) is flagged loudly: late or busy, its
numbers describe the generator, not the server. Every run ends with a verdict: ok,
generator-busy, generator-late or server-saturated.

Start barrier: before the timeline starts, every connection makes one verified round
trip and waits, idle, until all have (at most --bringup-timeout); connections that did
not come up by then are closed and the run goes on without them (reported as bringup).
With -R, --pipeline caps the requests in flight per connection (default 1, like wrk2).

Durations take units: 250us, 500ms, 2s, 1m, 1h (a bare number is seconds).
Sizes take k and m (KiB, MiB). Rates take k and m (thousands, millions).

Examples:
  loadgen 127.0.0.1:8080 -c 64 -t 1 -d 5s --protocol http
  loadgen 127.0.0.1:9000 -c 16 -R 20k --arrival poisson -d 10s --warmup 2s --json run.json
  loadgen 127.0.0.1:9000 -c 1 --split-writes --nodelay off -d 2s
  loadgen merge a.json b.json > merged.json
)";

double parse_scaled(const std::string& text, double k, const char* what) {
    if (text.empty()) throw ArgsError(fmt::format("empty {}", what));
    size_t used = 0;
    double value = 0.0;
    try {
        value = std::stod(text, &used);
    } catch (const std::exception&) {
        throw ArgsError(fmt::format("bad {} '{}'", what, text));
    }
    std::string suffix = text.substr(used);
    if (suffix == "k" || suffix == "K") {
        value *= k;
    } else if (suffix == "m" || suffix == "M") {
        value *= k * k;
    } else if (!suffix.empty()) {
        throw ArgsError(fmt::format("bad {} '{}'", what, text));
    }
    if (!(value >= 0.0) || !std::isfinite(value))
        throw ArgsError(fmt::format("bad {} '{}'", what, text));
    return value;
}

uint32_t parse_size(const std::string& text, const char* what) {
    double v = parse_scaled(text, 1024.0, what);
    if (v > 1024.0 * 1024.0 * 1024.0 || v != std::floor(v))
        throw ArgsError(fmt::format("bad {} '{}'", what, text));
    return static_cast<uint32_t>(v);
}

std::vector<int> parse_cpus(const std::string& text) {
    // "0,2,4-7"
    std::vector<int> cpus;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t comma = text.find(',', pos);
        std::string item =
            text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        pos = comma == std::string::npos ? text.size() : comma + 1;
        try {
            size_t dash = item.find('-');
            int first = std::stoi(item.substr(0, dash));
            int last = dash == std::string::npos ? first : std::stoi(item.substr(dash + 1));
            if (first < 0 || last < first || last > 4095) throw std::invalid_argument("");
            for (int c = first; c <= last; ++c) cpus.push_back(c);
        } catch (const std::exception&) {
            throw ArgsError(fmt::format("bad --cpus list '{}'", text));
        }
    }
    return cpus;
}

bool parse_on_off(const std::string& text, const char* what) {
    if (text == "on" || text == "1" || text == "true") return true;
    if (text == "off" || text == "0" || text == "false") return false;
    throw ArgsError(fmt::format("{} takes on or off, not '{}'", what, text));
}

}  // namespace

const char* to_string(Protocol p) {
    return p == Protocol::kHttp ? "http" : "frame";
}
const char* to_string(Arrival a) {
    return a == Arrival::kPoisson ? "poisson" : "uniform";
}
const char* to_string(CloseMode c) {
    return c == CloseMode::kRst ? "rst" : "fin";
}
const char* to_string(WriteMode w) {
    switch (w) {
        case WriteMode::kSingle:
            return "single";
        case WriteMode::kSplit:
            return "split";
        case WriteMode::kWritev:
            return "writev";
        case WriteMode::kCork:
            return "cork";
        case WriteMode::kMsgMore:
            return "msg_more";
        case WriteMode::kChunks:
            return "chunks";
    }
    return "?";
}

WriteMode parse_write_mode(const std::string& text) {
    for (auto m : {WriteMode::kSingle, WriteMode::kSplit, WriteMode::kWritev, WriteMode::kCork,
                   WriteMode::kMsgMore, WriteMode::kChunks})
        if (text == to_string(m)) return m;
    throw ArgsError(fmt::format("unknown write mode '{}'", text));
}

Duration parse_duration(const std::string& text) {
    size_t digits = 0;
    while (digits < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[digits])) || text[digits] == '.'))
        ++digits;
    if (digits == 0) throw ArgsError(fmt::format("bad duration '{}' (try 500ms, 2s, 1m)", text));
    double value = 0.0;
    try {
        value = std::stod(text.substr(0, digits));
    } catch (const std::exception&) {
        throw ArgsError(fmt::format("bad duration '{}'", text));
    }
    std::string unit = text.substr(digits);
    double ns_per_unit = 0.0;
    if (unit == "us")
        ns_per_unit = 1e3;
    else if (unit == "ms")
        ns_per_unit = 1e6;
    else if (unit == "s" || unit.empty())
        ns_per_unit = 1e9;
    else if (unit == "m")
        ns_per_unit = 60e9;
    else if (unit == "h")
        ns_per_unit = 3600e9;
    else
        throw ArgsError(fmt::format("bad duration unit in '{}' (us, ms, s, m, h)", text));
    double ns = value * ns_per_unit;
    if (!std::isfinite(ns) || ns > 1e9 * 86400 * 365)
        throw ArgsError(fmt::format("duration too long: '{}'", text));
    return Duration(static_cast<int64_t>(std::llround(ns)));
}

std::string format_duration(Duration d) {
    int64_t ns = d.count();
    if (ns % 3'600'000'000'000 == 0 && ns >= 3'600'000'000'000)
        return fmt::format("{}h", ns / 3'600'000'000'000);
    if (ns % 60'000'000'000 == 0 && ns >= 60'000'000'000)
        return fmt::format("{}m", ns / 60'000'000'000);
    if (ns % 1'000'000'000 == 0) return fmt::format("{}s", ns / 1'000'000'000);
    if (ns % 1'000'000 == 0) return fmt::format("{}ms", ns / 1'000'000);
    if (ns % 1'000 == 0) return fmt::format("{}us", ns / 1'000);
    return fmt::format("{:.3f}us", static_cast<double>(ns) / 1e3);
}

void validate(const Config& c) {
    if (c.port == 0) throw ArgsError("the target port must not be 0");
    if (c.connections < 1) throw ArgsError("-c must be at least 1");
    if (c.threads < 1) throw ArgsError("-t must be at least 1");
    if (c.pipeline < 1 || c.pipeline > 4096) throw ArgsError("--pipeline must be 1..4096");
    if (c.duration <= Duration::zero()) throw ArgsError("-d must be positive");
    if (c.warmup < Duration::zero()) throw ArgsError("--warmup must not be negative");
    if (c.timeout <= Duration::zero()) throw ArgsError("--timeout must be positive");
    if (c.bringup_timeout <= Duration::zero())
        throw ArgsError("--bringup-timeout must be positive");
    if (c.start_at && !(*c.start_at > 0.0 && std::isfinite(*c.start_at)))
        throw ArgsError("--start-at takes seconds since the epoch, e.g. 1764662400.25");
    if (c.rate < 0.0 || !std::isfinite(c.rate)) throw ArgsError("-R must be positive");
    if (c.slow_fraction < 0.0 || c.slow_fraction > 1.0)
        throw ArgsError("--slow-fraction must be 0..1");
    if (c.slow_fraction > 0.0 && c.slow_sleep_us == 0)
        throw ArgsError("--slow-fraction needs --slow-sleep-us");
    if (c.spin_us > 1'000'000 || c.sleep_us > 1'000'000 || c.slow_sleep_us > 1'000'000)
        throw ArgsError("--spin-us, --sleep-us and --slow-sleep-us are at most 1000000 (1 s)");
    if (c.path.empty() || c.path[0] != '/' || c.path.find_first_of("?# \r\n") != std::string::npos)
        throw ArgsError("--path must start with / and hold no query, spaces or CR/LF");
    for (const auto& h : c.headers)
        if (h.find(':') == std::string::npos || h.find_first_of("\r\n") != std::string::npos)
            throw ArgsError("-H takes \"Name: value\" without CR/LF, not '" + h + "'");
    if (c.connect_per_request && c.pipeline != 1)
        throw ArgsError("--connect-per-request sends one request per connection: no --pipeline");
}

Config parse_args(const std::vector<std::string>& args) {
    Config c;
    CLI::App app{"loadgen: open- and closed-loop load generator for patternbench servers",
                 "loadgen"};
    app.footer(kHelpFooter);
    app.get_formatter()->column_width(34);

    std::string target, duration = "10s", warmup = "0s", timeout = "2s", rate = "0",
                        arrival = "uniform", bringup_timeout = "10s";
    std::string close = "fin", protocol = "frame", nodelay = "on", max_lateness = "1ms";
    std::string request_size = "0", response_size, cpus, start_at;
    bool split = false, writev = false, cork = false, msg_more = false;
    bool no_verify = false, version = false, no_recv_timestamps = false;

    app.add_option("target", target,
                   "HOST:PORT of the server, or http://HOST[:PORT]/PATH as in wrk")
        ->required();
    app.add_option("-c,--connections", c.connections,
                   "Connections to keep open (split exactly over threads)")
        ->capture_default_str();
    app.add_option("-t,--threads", c.threads, "Threads, each with its own epoll loop")
        ->capture_default_str();
    app.add_option("-d,--duration", duration, "Measured duration")->capture_default_str();
    app.add_option("--warmup", warmup, "Load applied before measuring, then discarded")
        ->capture_default_str();
    app.add_option("--timeout", timeout, "A reply (or connect) later than this is a timeout error")
        ->capture_default_str();
    app.add_option("--bringup-timeout", bringup_timeout,
                   "Start barrier: wait this long for every connection's first round trip")
        ->capture_default_str();
    app.add_option("--start-at", start_at,
                   "Start the load (warm-up, then window) at this wall-clock instant, seconds "
                   "since the epoch with a fraction: generators on several hosts share a window");
    app.add_option("-R,--rate", rate, "Open loop: total requests/s (0: closed loop)")
        ->capture_default_str();
    app.add_option("--arrival", arrival, "Open-loop arrivals: uniform or poisson")
        ->check(CLI::IsMember({"uniform", "poisson"}))
        ->capture_default_str();
    app.add_option("--pipeline", c.pipeline, "Requests in flight per connection")
        ->capture_default_str();
    app.add_flag("--connect-per-request", c.connect_per_request,
                 "A new connection for every request, closed by the client");
    app.add_option("--close", close, "How the client closes with --connect-per-request: fin or rst")
        ->check(CLI::IsMember({"fin", "rst"}))
        ->capture_default_str();
    app.add_option("--protocol", protocol, "frame or http")
        ->check(CLI::IsMember({"frame", "http"}))
        ->capture_default_str();
    app.add_option("--request-size", request_size, "Request body bytes (http: a POST body)")
        ->capture_default_str();
    app.add_option("--response-size", response_size,
                   "Reply body bytes (default 13; http: ?size=N, else the 13-byte Hello, World!)");
    app.add_option("--spin-us", c.spin_us, "Server CPU busy-work per request, us")
        ->capture_default_str();
    app.add_option("--sleep-us", c.sleep_us, "Server blocking sleep per request, us")
        ->capture_default_str();
    app.add_option("--slow-fraction", c.slow_fraction,
                   "Share of requests that sleep --slow-sleep-us instead")
        ->capture_default_str();
    app.add_option("--slow-sleep-us", c.slow_sleep_us, "Sleep of the slow requests, us")
        ->capture_default_str();
    app.add_option("--path", c.path, "http: request path (the query is built from the workload)")
        ->capture_default_str();
    app.add_option("-H,--header", c.headers,
                   "http: an extra request header, \"Name: value\" (repeatable)")
        ->allow_extra_args(false);
    app.add_option("--nodelay", nodelay, "TCP_NODELAY on the client sockets: on or off")
        ->capture_default_str();
    app.add_flag("--split-writes", split, "Write each request in two write() calls");
    app.add_flag("--writev", writev, "Write each request as one writev() of two pieces");
    app.add_flag("--cork", cork, "TCP_CORK on, two write() calls, TCP_CORK off");
    app.add_flag("--msg-more", msg_more, "Two send() calls, the first with MSG_MORE");
    app.add_option(
        "--split-at", c.split_at,
        "Bytes in the first piece for the four above (default: the header/body boundary)");
    app.add_option("--write-chunk", c.write_chunk,
                   "Write each request in write() calls of this many bytes (Nagle's upside)");
    app.add_flag("--quickack", c.quickack, "TCP_QUICKACK after connect and after every read");
    app.add_flag("--fastopen", c.fastopen,
                 "TCP_FASTOPEN_CONNECT: the first write rides in the SYN once a cookie is held");
    app.add_flag("--busy-poll", c.busy_poll,
                 "Spin on epoll_wait(0) instead of sleeping: lower latency, a CPU per thread");
    app.add_flag("--no-recv-timestamps", no_recv_timestamps,
                 "No SO_TIMESTAMPNS (the generator receive delay is not measured)");
    app.add_flag("--no-verify", no_verify,
                 "Check framing, ids and status but not every payload byte");
    app.add_flag("--allow-errors", c.allow_errors, "Exit 0 even when requests failed");
    app.add_option("--max-lateness", max_lateness,
                   "Open loop: p99 send lateness that flags the run")
        ->capture_default_str();
    app.add_option("--seed", c.seed, "Seed for Poisson gaps and slow-request choice")
        ->capture_default_str();
    app.add_option("--cpus", cpus, "Pin threads round-robin to these CPUs, e.g. 0,1 or 2-3");
    app.add_option("--json", c.json_path,
                   "Write the full record (schema in loadgen/README.md) here");
    app.add_flag("-q,--quiet", c.quiet, "No human summary on stdout");
    app.add_flag("--latency,--spectrum", c.spectrum,
                 "Add the detailed percentile spectrum (as wrk2 --latency) to the summary");
    app.add_flag("--version", version, "Print the version");

    std::vector<std::string> reversed(args.rbegin(), args.rend());
    try {
        app.parse(reversed);
    } catch (const CLI::CallForHelp&) {
        throw HelpRequested(app.help());
    } catch (const CLI::ParseError& e) {
        if (version) throw HelpRequested("loadgen 1 (json schema 2)\n");
        throw ArgsError(e.what());
    }
    if (version) throw HelpRequested("loadgen 1 (json schema 2)\n");

    bool url = target.rfind("http://", 0) == 0;
    if (url) {
        // wrk's form: implies --protocol http and takes the path from the URL.
        std::string rest = target.substr(7);
        size_t slash = rest.find('/');
        std::string authority = rest.substr(0, slash);
        if (slash != std::string::npos && app.count("--path") == 0) c.path = rest.substr(slash);
        target = authority.find(':') == std::string::npos ? authority + ":80" : authority;
        if (app.count("--protocol") && protocol != "http")
            throw ArgsError("an http:// target needs --protocol http");
        protocol = "http";
    }
    try {
        split_host_port(target, c.host, c.port);
    } catch (const std::invalid_argument& e) {
        throw ArgsError(e.what());
    }
    c.duration = parse_duration(duration);
    c.warmup = parse_duration(warmup);
    c.timeout = parse_duration(timeout);
    c.bringup_timeout = parse_duration(bringup_timeout);
    c.max_lateness = parse_duration(max_lateness);
    c.rate = parse_scaled(rate, 1000.0, "rate");
    if (!start_at.empty()) {
        size_t used = 0;
        try {
            c.start_at = std::stod(start_at, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != start_at.size())
            throw ArgsError(fmt::format("bad --start-at '{}' (seconds since the epoch)", start_at));
    }
    c.arrival = arrival == "poisson" ? Arrival::kPoisson : Arrival::kUniform;
    c.close = close == "rst" ? CloseMode::kRst : CloseMode::kFin;
    c.protocol = protocol == "http" ? Protocol::kHttp : Protocol::kFrame;
    c.request_size = parse_size(request_size, "--request-size");
    if (!response_size.empty()) c.response_size = parse_size(response_size, "--response-size");
    c.nodelay = parse_on_off(nodelay, "--nodelay");
    int modes = int{split} + int{writev} + int{cork} + int{msg_more} + int{c.write_chunk > 0};
    if (modes > 1)
        throw ArgsError(
            "choose one of --split-writes, --writev, --cork, --msg-more, --write-chunk");
    c.write_mode = split               ? WriteMode::kSplit
                   : writev            ? WriteMode::kWritev
                   : cork              ? WriteMode::kCork
                   : msg_more          ? WriteMode::kMsgMore
                   : c.write_chunk > 0 ? WriteMode::kChunks
                                       : WriteMode::kSingle;
    if (c.split_at > 0 && c.write_mode == WriteMode::kSingle) c.write_mode = WriteMode::kSplit;
    if (c.split_at > 0 && c.write_mode == WriteMode::kChunks)
        throw ArgsError("--split-at does not apply to --write-chunk");
    c.verify = !no_verify;
    c.recv_timestamps = !no_recv_timestamps;
    if (!cpus.empty()) c.cpus = parse_cpus(cpus);
    validate(c);
    return c;
}

}  // namespace pb::loadgen
