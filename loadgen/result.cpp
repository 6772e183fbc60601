#include "result.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <thread>

#include "socket.hpp"

namespace pb::loadgen {
namespace {

constexpr int64_t kStallThresholdUs = 30'000;
constexpr int64_t kStallThresholdNs = kStallThresholdUs * kNsPerUs;

struct Percentile {
    const char* key;
    double value;
};
constexpr Percentile kPercentiles[] = {{"p50", 50.0},      {"p75", 75.0},   {"p90", 90.0},
                                       {"p99", 99.0},      {"p99.9", 99.9}, {"p99.99", 99.99},
                                       {"p99.999", 99.999}};

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

Json host_json(const HostInfo& h) {
    Json j = Json::object();
    j.set("hostname", h.hostname);
    j.set("kernel", h.kernel);
    j.set("cpu_model", h.cpu_model);
    j.set("cpus", h.cpus);
    return j;
}

HostInfo host_from_json(const Json& j) {
    HostInfo h;
    h.hostname = j.at("hostname").as_string();
    h.kernel = j.at("kernel").as_string();
    h.cpu_model = j.at("cpu_model").as_string();
    h.cpus = static_cast<int>(j.at("cpus").as_int());
    return h;
}

Json config_json(const Config& c) {
    Json j = Json::object();
    j.set("target", fmt::format("{}:{}", c.host, c.port));
    j.set("connections", c.connections);
    j.set("threads", c.threads);
    j.set("duration", format_duration(c.duration));
    j.set("warmup", format_duration(c.warmup));
    j.set("timeout", format_duration(c.timeout));
    j.set("rate", c.rate);
    j.set("arrival", to_string(c.arrival));
    j.set("pipeline", c.pipeline);
    j.set("connect_per_request", c.connect_per_request);
    j.set("close", to_string(c.close));
    j.set("protocol", to_string(c.protocol));
    j.set("request_size", c.request_size);
    j.set("response_size", c.reply_bytes());
    j.set("response_size_given", c.response_size.has_value());
    j.set("spin_us", c.spin_us);
    j.set("sleep_us", c.sleep_us);
    j.set("slow_fraction", c.slow_fraction);
    j.set("slow_sleep_us", c.slow_sleep_us);
    j.set("path", c.path);
    Json headers = Json::array();
    for (const auto& h : c.headers) headers.push(h);
    j.set("headers", std::move(headers));
    j.set("nodelay", c.nodelay);
    j.set("write_mode", to_string(c.write_mode));
    j.set("split_at", c.split_at);
    j.set("write_chunk", c.write_chunk);
    j.set("quickack", c.quickack);
    j.set("busy_poll", c.busy_poll);
    j.set("recv_timestamps", c.recv_timestamps);
    j.set("bringup_timeout", format_duration(c.bringup_timeout));
    j.set("spectrum", c.spectrum);
    j.set("verify", c.verify);
    j.set("allow_errors", c.allow_errors);
    j.set("max_lateness", format_duration(c.max_lateness));
    j.set("seed", c.seed);
    Json cpus = Json::array();
    for (int cpu : c.cpus) cpus.push(cpu);
    j.set("cpus", std::move(cpus));
    return j;
}

Config config_from_json(const Json& j) {
    Config c;
    split_host_port(j.at("target").as_string(), c.host, c.port);
    c.connections = static_cast<int>(j.at("connections").as_int());
    c.threads = static_cast<int>(j.at("threads").as_int());
    c.duration = parse_duration(j.at("duration").as_string());
    c.warmup = parse_duration(j.at("warmup").as_string());
    c.timeout = parse_duration(j.at("timeout").as_string());
    c.rate = j.at("rate").as_double();
    c.arrival = j.at("arrival").as_string() == "poisson" ? Arrival::kPoisson : Arrival::kUniform;
    c.pipeline = static_cast<int>(j.at("pipeline").as_int());
    c.connect_per_request = j.at("connect_per_request").as_bool();
    c.close = j.at("close").as_string() == "rst" ? CloseMode::kRst : CloseMode::kFin;
    c.protocol = j.at("protocol").as_string() == "http" ? Protocol::kHttp : Protocol::kFrame;
    c.request_size = static_cast<uint32_t>(j.at("request_size").as_int());
    if (j.at("response_size_given").as_bool())
        c.response_size = static_cast<uint32_t>(j.at("response_size").as_int());
    c.spin_us = static_cast<uint32_t>(j.at("spin_us").as_int());
    c.sleep_us = static_cast<uint32_t>(j.at("sleep_us").as_int());
    c.slow_fraction = j.at("slow_fraction").as_double();
    c.slow_sleep_us = static_cast<uint32_t>(j.at("slow_sleep_us").as_int());
    c.path = j.at("path").as_string();
    for (const Json& h : j.at("headers").as_array()) c.headers.push_back(h.as_string());
    c.nodelay = j.at("nodelay").as_bool();
    c.write_mode = parse_write_mode(j.at("write_mode").as_string());
    c.split_at = static_cast<uint32_t>(j.at("split_at").as_int());
    c.write_chunk = static_cast<uint32_t>(j.at("write_chunk").as_int());
    c.quickack = j.at("quickack").as_bool();
    // Version 2 fields; a version-1 record ran without them.
    if (const Json* v = j.find("busy_poll")) c.busy_poll = v->as_bool();
    c.recv_timestamps = false;
    if (const Json* v = j.find("recv_timestamps")) c.recv_timestamps = v->as_bool();
    if (const Json* v = j.find("bringup_timeout"))
        c.bringup_timeout = parse_duration(v->as_string());
    if (const Json* sp = j.find("spectrum")) c.spectrum = sp->as_bool();
    c.verify = j.at("verify").as_bool();
    c.allow_errors = j.at("allow_errors").as_bool();
    c.max_lateness = parse_duration(j.at("max_lateness").as_string());
    c.seed = static_cast<uint64_t>(j.at("seed").as_int());
    for (const Json& cpu : j.at("cpus").as_array())
        c.cpus.push_back(static_cast<int>(cpu.as_int()));
    return c;
}

// Every reported time is in microseconds; nanosecond values give them 3 decimals.
std::string format_us(double us) {
    if (us < 1000.0) return fmt::format("{:.2f}us", us);
    if (us < 1'000'000.0) return fmt::format("{:.2f}ms", us / 1e3);
    return fmt::format("{:.2f}s", us / 1e6);
}

std::string format_bytes(double bytes) {
    if (bytes < 1024.0) return fmt::format("{:.0f}B", bytes);
    if (bytes < 1024.0 * 1024.0) return fmt::format("{:.2f}KB", bytes / 1024.0);
    if (bytes < 1024.0 * 1024.0 * 1024.0) return fmt::format("{:.2f}MB", bytes / 1024.0 / 1024.0);
    return fmt::format("{:.2f}GB", bytes / 1024.0 / 1024.0 / 1024.0);
}

void summary_block(std::string& out, const char* title, const Histogram& h) {
    if (h.empty()) return;
    out += fmt::format("  {}\n", title);
    out += fmt::format("    {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}\n", "mean",
                       "stdev", "p50", "p90", "p99", "p99.9", "p99.99", "max");
    out += fmt::format("    {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}\n",
                       format_us(h.mean() / static_cast<double>(kNsPerUs)),
                       format_us(h.stdev() / static_cast<double>(kNsPerUs)),
                       format_us(ns_to_us(h.value_at_percentile(50))),
                       format_us(ns_to_us(h.value_at_percentile(90))),
                       format_us(ns_to_us(h.value_at_percentile(99))),
                       format_us(ns_to_us(h.value_at_percentile(99.9))),
                       format_us(ns_to_us(h.value_at_percentile(99.99))),
                       format_us(ns_to_us(h.max())));
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

double Result::throughput_rps() const {
    // Replies that arrived inside the window: requests due in the window but
    // answered during the drain must not lift the rate of a server that fell behind.
    return duration_s > 0.0 ? static_cast<double>(stats.window_replies) / duration_s : 0.0;
}

double Result::achieved_rps() const {
    return duration_s > 0.0 ? static_cast<double>(stats.requests) / duration_s : 0.0;
}

const char* to_string(VerdictKind k) {
    switch (k) {
        case VerdictKind::kOk:
            return "ok";
        case VerdictKind::kServerSaturated:
            return "server-saturated";
        case VerdictKind::kGeneratorLate:
            return "generator-late";
        case VerdictKind::kGeneratorBusy:
            return "generator-busy";
    }
    return "?";
}

Verdict Result::verdict() const {
    // Every finding, in precedence order: the first names the verdict, the
    // others follow in the reason. A busy generator reads replies late, which no
    // send-time measure can see, so it outranks lateness; a late generator
    // explains a shortfall, so lateness outranks the server.
    std::vector<std::pair<VerdictKind, std::string>> found;
    if (generator_bound())
        found.emplace_back(VerdictKind::kGeneratorBusy,
                           fmt::format("a generator thread was busy {:.0f}% of the window "
                                       "(bound: over {:.0f}%)",
                                       100.0 * stats.max_thread_busy, 100.0 * kGeneratorBoundBusy));
    if (open_loop()) {
        int64_t bound_ns =
            std::chrono::duration_cast<std::chrono::nanoseconds>(config.max_lateness).count();
        int64_t p99 = stats.lateness.value_at_percentile(99.0);
        if (!stats.lateness.empty() && p99 > bound_ns)
            found.emplace_back(VerdictKind::kGeneratorLate,
                               fmt::format("p99 send lateness {} over the {} bound",
                                           format_us(ns_to_us(p99)),
                                           format_duration(config.max_lateness)));
        double achieved = achieved_rps();
        if (achieved < 0.99 * target_rps)
            found.emplace_back(VerdictKind::kServerSaturated,
                               fmt::format("achieved {:.0f} req/s, under 99% of the planned {:.0f}",
                                           achieved, target_rps));
    }
    Verdict v;
    if (found.empty()) return v;
    v.kind = found.front().first;
    for (const auto& f : found) {
        if (!v.reason.empty()) v.reason += "; ";
        v.reason += f.second;
    }
    return v;
}

bool Result::could_not_keep_up(std::string* reason) const {
    if (!open_loop()) return false;
    Verdict v = verdict();
    if (reason) *reason = v.reason;
    return !v.ok();
}

Json histogram_json(const Histogram& h) {
    Json j = Json::object();
    j.set("count", h.count());
    j.set("min", ns_to_us(h.min()));
    for (const auto& p : kPercentiles) j.set(p.key, ns_to_us(h.value_at_percentile(p.value)));
    j.set("max", ns_to_us(h.max()));
    j.set("mean", h.mean() / static_cast<double>(kNsPerUs));
    j.set("stdev", h.stdev() / static_cast<double>(kNsPerUs));
    Json hist = Json::object();
    hist.set("unit", Histogram::kUnit);
    hist.set("lowest", Histogram::kLowest);
    hist.set("highest", Histogram::kHighest);
    hist.set("significant_digits", Histogram::kSignificantDigits);
    hist.set("saturated", h.saturated());
    Json buckets = Json::array();
    h.for_each_bucket([&](int64_t value, int64_t count) {
        buckets.push(Json(Json::Array{value, count}));
    });
    hist.set("buckets", std::move(buckets));
    j.set("histogram", std::move(hist));
    return j;
}

Histogram histogram_from_json(const Json& j) {
    Histogram h;
    if (j.is_null()) return h;
    const Json& hist = j.at("histogram");
    const std::string& unit = hist.at("unit").as_string();
    int64_t scale = 0;  // nanoseconds per unit of the buckets
    if (unit == "ns")
        scale = 1;
    else if (unit == "us")
        scale = kNsPerUs;
    if (scale == 0 || hist.at("significant_digits").as_int() != Histogram::kSignificantDigits)
        throw std::runtime_error(
            fmt::format("json: histogram in unit \"{}\" or another precision", unit));
    // min and max are microseconds, with 3 decimals since schema 3: exact in a
    // double up to kHighest, so rounding gets the nanoseconds back.
    auto to_ns = [](const Json& us) {
        return static_cast<int64_t>(std::llround(us.as_double() * static_cast<double>(kNsPerUs)));
    };
    const int64_t min_ns = to_ns(j.at("min"));
    const int64_t max_ns = to_ns(j.at("max"));
    bool min_placed = false;
    bool max_placed = false;
    for (const Json& b : hist.at("buckets").as_array()) {
        const auto& pair = b.as_array();
        if (pair.size() != 2)
            throw std::runtime_error("json: histogram bucket is not [value, count]");
        int64_t value = pair[0].as_int();
        int64_t count = pair[1].as_int();
        if (scale != 1) {
            // A microsecond step (schema 1 and 2) is wider than the nanosecond
            // steps it covers: its values go to its floor, value * 1000 ns, except
            // the record's min and max, which are known exactly and keep their own
            // step. Counts carry over one for one, so records merge exactly.
            if (!min_placed && count > 0 && Histogram::lowest_equivalent(min_ns / scale) == value) {
                h.record(min_ns);
                --count;
                min_placed = true;
            }
            if (!max_placed && count > 0 && Histogram::lowest_equivalent(max_ns / scale) == value) {
                h.record(max_ns);
                --count;
                max_placed = true;
            }
        }
        h.record(value * scale, count);
    }
    h.restore_extremes(min_ns, max_ns, hist.at("saturated").as_int());
    return h;
}

Json to_json_value(const Result& r) {
    const RunStats& s = r.stats;
    Json j = Json::object();
    j.set("schema", kSchemaName);
    j.set("schema_version", kSchemaVersion);
    j.set("tool", "loadgen");
    j.set("started_at", r.started_at);
    j.set("runs", r.runs);
    Json hosts = Json::array();
    for (const auto& h : r.hosts) hosts.push(host_json(h));
    j.set("host", r.hosts.empty() ? Json() : host_json(r.hosts.front()));
    j.set("hosts", std::move(hosts));
    j.set("config", config_json(r.config));
    j.set("threads", r.threads);
    j.set("mode", r.open_loop() ? "open" : "closed");
    j.set("duration_s", r.duration_s);

    j.set("requests", s.requests);
    j.set("window_replies", s.window_replies);
    j.set("throughput_rps", r.throughput_rps());
    j.set("bytes_read", s.bytes_read);
    j.set("bytes_written", s.bytes_written);
    j.set("sent", s.sent);
    j.set("dropped", s.dropped);
    j.set("slow_requests", s.slow_requests);
    j.set("connects", s.connects);

    Json errors = Json::object();
    for (size_t i = 0; i < kErrorClassCount; ++i)
        errors.set(to_string(static_cast<ErrorClass>(i)), s.errors.by_class[i]);
    errors.set("total", s.errors.total());
    j.set("errors", std::move(errors));
    Json samples = Json::array();
    for (const auto& e : s.error_samples) samples.push(e);
    j.set("error_samples", std::move(samples));
    j.set("ok", !r.has_errors());
    Verdict verdict = r.verdict();
    Json vj = Json::object();
    vj.set("kind", to_string(verdict.kind));
    vj.set("reason", verdict.reason);
    j.set("verdict", std::move(vj));
    if (r.bringup) {
        Json b = Json::object();
        b.set("connections", r.bringup->connections);
        b.set("up", r.bringup->up);
        b.set("seconds", r.bringup->seconds);
        b.set("complete", r.bringup->complete());
        j.set("bringup", std::move(b));
    } else {
        j.set("bringup", Json());
    }

    if (r.open_loop()) {
        std::string reason;
        bool late = r.could_not_keep_up(&reason);
        Json open = Json::object();
        open.set("target_rps", r.target_rps);
        open.set("achieved_rps", r.achieved_rps());
        open.set("arrival", to_string(r.config.arrival));
        open.set("unsent", s.unsent);
        open.set("unsent_recorded", true);
        open.set("could_not_keep_up", late);
        open.set("reason", reason);
        open.set(
            "max_lateness_us",
            std::chrono::duration_cast<std::chrono::microseconds>(r.config.max_lateness).count());
        open.set("lateness_us", histogram_json(s.lateness));
        j.set("open_loop", std::move(open));
    } else {
        j.set("open_loop", Json());
    }

    // The Nagle experiments count the exchanges that met a delayed ACK (~40 ms).
    Json stalls = Json::object();
    stalls.set("threshold_us", kStallThresholdUs);
    stalls.set("count", s.latency.count_at_or_above(kStallThresholdNs));
    j.set("stalls", std::move(stalls));
    j.set("latency_us", histogram_json(s.latency));
    j.set("uncorrected_latency_us", histogram_json(s.uncorrected_latency));
    j.set("fast_latency_us", s.fast_latency.empty() ? Json() : histogram_json(s.fast_latency));
    j.set("connect_latency_us",
          s.connect_latency.empty() ? Json() : histogram_json(s.connect_latency));
    j.set("first_byte_latency_us",
          s.first_byte_latency.empty() ? Json() : histogram_json(s.first_byte_latency));

    Json generator = Json::object();
    generator.set("cpu_seconds", s.generator_cpu_seconds);
    generator.set("max_thread_busy", s.max_thread_busy);
    generator.set("saturated", r.generator_bound());
    generator.set("bound", r.generator_bound());
    generator.set("recv_delay_us", s.recv_delay.empty() ? Json() : histogram_json(s.recv_delay));
    j.set("generator", std::move(generator));

    Json tcp = Json::object();
    tcp.set("segs_out", s.tcp.segs_out);
    tcp.set("segs_in", s.tcp.segs_in);
    tcp.set("retransmits", s.tcp.retransmits);
    tcp.set("connections", s.tcp.connections);
    double per = s.requests ? 1.0 / static_cast<double>(s.requests) : 0.0;
    tcp.set("segs_out_per_request", static_cast<double>(s.tcp.segs_out) * per);
    tcp.set("segs_in_per_request", static_cast<double>(s.tcp.segs_in) * per);
    j.set("tcp_info", std::move(tcp));
    return j;
}

std::string to_json(const Result& r) {
    return to_json_value(r).dump(2);
}

Result from_json(const std::string& text) {
    Json j = Json::parse(text);
    if (!j.is_object() || !j.find("schema") || j.at("schema").as_string() != kSchemaName)
        throw std::runtime_error("not a loadgen record (no \"schema\": \"patternbench-loadgen\")");
    int64_t version = j.at("schema_version").as_int();
    if (version < kOldestSchemaVersion || version > kSchemaVersion)
        throw std::runtime_error(
            fmt::format("loadgen record has schema_version {}, this loadgen reads {} to {}",
                        version, kOldestSchemaVersion, kSchemaVersion));
    Result r;
    r.config = config_from_json(j.at("config"));
    r.threads = static_cast<int>(j.at("threads").as_int());
    r.duration_s = j.at("duration_s").as_double();
    r.started_at = j.at("started_at").as_string();
    r.runs = static_cast<int>(j.at("runs").as_int());
    for (const Json& h : j.at("hosts").as_array()) r.hosts.push_back(host_from_json(h));

    RunStats& s = r.stats;
    s.requests = static_cast<uint64_t>(j.at("requests").as_int());
    s.window_replies = static_cast<uint64_t>(j.at("window_replies").as_int());
    s.bytes_read = static_cast<uint64_t>(j.at("bytes_read").as_int());
    s.bytes_written = static_cast<uint64_t>(j.at("bytes_written").as_int());
    s.sent = static_cast<uint64_t>(j.at("sent").as_int());
    s.dropped = static_cast<uint64_t>(j.at("dropped").as_int());
    s.slow_requests = static_cast<uint64_t>(j.at("slow_requests").as_int());
    s.connects = static_cast<uint64_t>(j.at("connects").as_int());
    const Json& errors = j.at("errors");
    for (size_t i = 0; i < kErrorClassCount; ++i)
        s.errors.by_class[i] =
            static_cast<uint64_t>(errors.at(to_string(static_cast<ErrorClass>(i))).as_int());
    for (const Json& e : j.at("error_samples").as_array()) s.error_samples.push_back(e.as_string());

    const Json& open = j.at("open_loop");
    if (!open.is_null()) {
        r.target_rps = open.at("target_rps").as_double();
        s.unsent = static_cast<uint64_t>(open.at("unsent").as_int());
        s.lateness = histogram_from_json(open.at("lateness_us"));
    }
    s.latency = histogram_from_json(j.at("latency_us"));
    s.uncorrected_latency = histogram_from_json(j.at("uncorrected_latency_us"));
    s.fast_latency = histogram_from_json(j.at("fast_latency_us"));
    s.connect_latency = histogram_from_json(j.at("connect_latency_us"));
    s.first_byte_latency = histogram_from_json(j.at("first_byte_latency_us"));

    if (const Json* g = j.find("generator")) {
        s.generator_cpu_seconds = g->at("cpu_seconds").as_double();
        s.max_thread_busy = g->at("max_thread_busy").as_double();
        if (const Json* d = g->find("recv_delay_us")) s.recv_delay = histogram_from_json(*d);
    }
    // Version 2. The verdict is derived, so it is computed again rather than read.
    if (const Json* b = j.find("bringup"); b && !b->is_null()) {
        Bringup up;
        up.connections = static_cast<int>(b->at("connections").as_int());
        up.up = static_cast<int>(b->at("up").as_int());
        up.seconds = b->at("seconds").as_double();
        r.bringup = up;
    }
    const Json& tcp = j.at("tcp_info");
    s.tcp.segs_out = static_cast<uint64_t>(tcp.at("segs_out").as_int());
    s.tcp.segs_in = static_cast<uint64_t>(tcp.at("segs_in").as_int());
    s.tcp.retransmits = static_cast<uint64_t>(tcp.at("retransmits").as_int());
    s.tcp.connections = static_cast<uint64_t>(tcp.at("connections").as_int());
    return r;
}

Result merge(const std::vector<Result>& results) {
    if (results.empty()) throw std::invalid_argument("merge: no records");
    Result out = results.front();
    out.stats = RunStats{};
    out.hosts.clear();
    out.runs = 0;
    out.threads = 0;
    out.duration_s = 0.0;
    out.target_rps = 0.0;
    out.bringup.reset();
    out.timeline = Timeline{};
    for (const Result& r : results) {
        if (r.bringup) {
            Bringup& b = out.bringup ? *out.bringup : out.bringup.emplace();
            b.connections += r.bringup->connections;
            b.up += r.bringup->up;
            b.seconds = std::max(b.seconds, r.bringup->seconds);
        }
        out.stats.add(r.stats);
        out.hosts.insert(out.hosts.end(), r.hosts.begin(), r.hosts.end());
        out.runs += r.runs;
        out.threads += r.threads;
        out.duration_s = std::max(out.duration_s, r.duration_s);
        out.target_rps += r.target_rps;
        out.started_at = std::min(out.started_at, r.started_at);
    }
    return out;
}

std::string format_summary(const Result& r) {
    const Config& c = r.config;
    const RunStats& s = r.stats;
    std::string out;
    std::string mode = r.open_loop() ? fmt::format("open loop at {:.0f} req/s ({} arrivals)",
                                                   r.target_rps, to_string(c.arrival))
                                     : fmt::format("closed loop, pipeline {}", c.pipeline);
    double planned_s = std::chrono::duration<double>(c.duration).count();
    std::string stopped = r.runs == 1 && r.duration_s + 1e-3 < planned_s
                              ? fmt::format(" (stopped after {:.2f}s)", r.duration_s)
                              : "";
    out += fmt::format("Running {} test @ {}:{}{}{}\n", format_duration(c.duration), c.host, c.port,
                       r.runs > 1 ? fmt::format(" ({} runs merged)", r.runs) : "", stopped);
    out += fmt::format("  {} threads and {} connections, {}, {}{}\n", r.threads, c.connections,
                       to_string(c.protocol), mode,
                       c.connect_per_request
                           ? fmt::format(", connect per request (close {})", to_string(c.close))
                           : "");
    if (r.open_loop()) {
        summary_block(out, "Latency (corrected: from the intended send time)", s.latency);
        summary_block(out,
                      c.connect_per_request ? "Latency (uncorrected: from the connect() call)"
                                            : "Latency (uncorrected: from the actual write)",
                      s.uncorrected_latency);
    } else {
        summary_block(out, "Latency", s.latency);
    }
    summary_block(out, "Latency of the fast requests", s.fast_latency);
    summary_block(out, "Connect", s.connect_latency);
    summary_block(out, "First byte (from connect)", s.first_byte_latency);
    if (!s.recv_delay.empty())
        out += fmt::format(
            "  Generator receive delay (kernel receive stamp to read): p50 {}, p99 {}\n",
            format_us(ns_to_us(s.recv_delay.value_at_percentile(50))),
            format_us(ns_to_us(s.recv_delay.value_at_percentile(99))));
    if (c.spectrum && !s.latency.empty()) {
        // HdrHistogram's percentile distribution: 5 ticks per halving of the
        // distance to 100%, down to what the sample count can resolve.
        out += "  Detailed percentile spectrum (latency_us)\n";
        out += fmt::format("    {:>12} {:>14} {:>12} {:>14}\n", "Value(us)", "Percentile",
                           "TotalCount", "1/(1-Percentile)");
        const Histogram& h = s.latency;
        auto total = static_cast<double>(h.count());
        for (int k = 0;; ++k) {
            double remaining = std::pow(0.5, k / 5.0);
            if (1.0 / remaining > total) break;
            double pct = 100.0 * (1.0 - remaining);
            int64_t v = h.value_at_percentile(pct);
            out += fmt::format("    {:>12.3f} {:>14.6f} {:>12} {:>14.2f}\n", ns_to_us(v),
                               pct / 100.0, h.count() - h.count_at_or_above(v + 1),
                               1.0 / remaining);
        }
        out += fmt::format("    {:>12.3f} {:>14.6f} {:>12} {:>14}\n", ns_to_us(h.max()), 1.0,
                           h.count(), "inf");
    }
    if (!s.latency.empty()) {
        out += "  Latency distribution\n";
        for (const auto& p : kPercentiles)
            out +=
                fmt::format("    {:>8}  {}\n", p.key,
                            format_us(ns_to_us(s.latency.value_at_percentile(p.value))));
    }
    if (r.bringup)
        out += fmt::format("  Start barrier: {} of {} connections up in {:.3f}s{}\n", r.bringup->up,
                           r.bringup->connections, r.bringup->seconds,
                           r.bringup->complete() ? "" : " (the run went on without the others)");
    out += fmt::format("  {} requests in {:.2f}s, {} read, {} written\n", s.requests, r.duration_s,
                       format_bytes(static_cast<double>(s.bytes_read)),
                       format_bytes(static_cast<double>(s.bytes_written)));
    if (s.tcp.connections > 0 && s.requests > 0)
        out += fmt::format("  TCP: {:.2f} segments out and {:.2f} in per request, {} retransmits\n",
                           static_cast<double>(s.tcp.segs_out) / static_cast<double>(s.requests),
                           static_cast<double>(s.tcp.segs_in) / static_cast<double>(s.requests),
                           s.tcp.retransmits);
    if (r.has_errors()) {
        out += fmt::format("  ERRORS: {} total:", s.errors.total());
        for (size_t i = 0; i < kErrorClassCount; ++i)
            if (s.errors.by_class[i])
                out += fmt::format(" {} {}", to_string(static_cast<ErrorClass>(i)),
                                   s.errors.by_class[i]);
        out += "\n";
        for (const auto& e : s.error_samples) out += fmt::format("    {}\n", e);
        if (s.dropped)
            out +=
                fmt::format("  {} measured requests were lost with their connections\n", s.dropped);
    }
    out += fmt::format("Requests/sec: {:>10.2f}\n", r.throughput_rps());
    out += fmt::format(
        "Transfer/sec: {:>10}\n",
        format_bytes(r.duration_s > 0 ? static_cast<double>(s.bytes_read) / r.duration_s : 0.0));
    Verdict verdict = r.verdict();
    if (r.open_loop() && !verdict.ok()) {
        out += "!!! COULD NOT KEEP UP WITH THE PLAN: " + verdict.reason + "\n";
        if (verdict.kind != VerdictKind::kServerSaturated)
            out += "!!! the generator itself ran late: these numbers describe it, not the server\n";
        else
            out +=
                "!!! sends left on time whenever a connection had room: the server (or the\n"
                "!!! --pipeline cap) held the rate back\n";
    } else if (r.open_loop()) {
        out += fmt::format("Send lateness p99 {} (bound {}), {} planned requests left unsent\n",
                           format_us(ns_to_us(s.lateness.value_at_percentile(99))),
                           format_duration(c.max_lateness), s.unsent);
    }
    if (r.open_loop() && s.unsent > 0)
        out += fmt::format(
            "  {} planned requests were never sent: in the corrected latency as the wait from\n"
            "  their intended send time to the end of the drain\n",
            s.unsent);
    if (!r.open_loop() && r.generator_bound())
        out += fmt::format(
            "Note: a generator thread was busy {:.0f}% of the window: the throughput may be "
            "the generator's limit (try more -t)\n",
            100.0 * s.max_thread_busy);
    out += fmt::format("Verdict: {}{}\n", to_string(verdict.kind),
                       verdict.reason.empty() ? "" : ": " + verdict.reason);
    if (r.has_errors())
        out += fmt::format("!!! RUN HAD {} ERRORS: see above{}\n", s.errors.total(),
                           c.allow_errors ? " (--allow-errors: exit status 0)" : "");
    return out;
}

}  // namespace pb::loadgen
