// The JSON round trip of a Result: to_json() writes the versioned record of
// loadgen/README.md, from_json() reads it back (schemas 1 to 3).
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <stdexcept>

#include "report_format.hpp"
#include "result.hpp"
#include "socket.hpp"

namespace pb::loadgen {
namespace {

constexpr int64_t kStallThresholdUs = 30'000;
constexpr int64_t kStallThresholdNs = kStallThresholdUs * kNsPerUs;

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
    j.set("start_at", c.start_at ? Json(*c.start_at) : Json());
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
    // Added within version 3 (--start-at): absent from earlier records.
    if (const Json* v = j.find("start_at"); v && !v->is_null()) c.start_at = v->as_double();
    if (const Json* sp = j.find("spectrum")) c.spectrum = sp->as_bool();
    c.verify = j.at("verify").as_bool();
    c.allow_errors = j.at("allow_errors").as_bool();
    c.max_lateness = parse_duration(j.at("max_lateness").as_string());
    c.seed = static_cast<uint64_t>(j.at("seed").as_int());
    for (const Json& cpu : j.at("cpus").as_array())
        c.cpus.push_back(static_cast<int>(cpu.as_int()));
    return c;
}

}  // namespace

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
    j.set("window_start", r.window_start ? Json(*r.window_start) : Json());

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
    s.errors.for_each([&](ErrorClass e, uint64_t n) { errors.set(to_string(e), n); });
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
    // Added within version 3: absent from earlier records.
    if (const Json* v = j.find("window_start"); v && !v->is_null()) r.window_start = v->as_double();
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
    for (size_t i = 0; i < kErrorClasses<ErrorClass>; ++i) {
        auto e = static_cast<ErrorClass>(i);
        s.errors[e] = static_cast<uint64_t>(errors.at(to_string(e)).as_int());
    }
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

}  // namespace pb::loadgen
