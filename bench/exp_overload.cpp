// Claims experiment "overload" (P4: a thread per connection costs memory and
// resources; P5: nothing bounds the number of threads, so many clients can
// overload the system).
//
// Part A, "idle": the idle-heavy workload (many keep-alive connections sharing
// an open-loop total of kIdleHeavyRps) at 1,024, 4,096 and 8,192 connections,
// for server-thread-per-conn as shipped (--max-threads 10000: nothing binds at
// these counts), for server-thread-per-conn with --max-threads kThreadBound (the
// acceptor closes every connection past the bound at once and counts it as
// thread_cap: those clients are refused, not queued), and for server-worker-queue
// and server-single as controls whose threads do not follow the clients. The
// figures: peak threads, peak RSS, the p99 of the connections that came up, and
// how many never did (refused).
//
// Part B, "busy": 256 closed-loop connections of the cpu workload keep every
// connection thread (or the pool, or the loop) busy while a probe opens a new
// connection every kProbeInterval through the window and times connect() to
// its first reply: how long a newcomer waits to be served when the server is
// already loaded. The harness samples the listener's accept queue meanwhile.
//
// Every case runs the probe; in Part A it shows what a newcomer meets at the
// thread bound (refused) and past it without one.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <fstream>
#include <memory>
#include <optional>
#include <thread>

#include "case_steps.hpp"
#include "clock.hpp"
#include "experiments.hpp"
#include "frame.hpp"
#include "unique_fd.hpp"

namespace pb::bench {

namespace {

namespace lg = pb::loadgen;
using lg::Json;
using std::chrono::milliseconds;

// Part A's connection counts: the default profile's idle-heavy point, then 4x and 8x.
constexpr int kIdleCounts[] = {kIdleHeavyConnections, 4 * kIdleHeavyConnections,
                               8 * kIdleHeavyConnections};
// The --max-threads of the bounded variant: half the smallest count, so the bound
// binds at every point.
constexpr int kThreadBound = kIdleHeavyConnections / 2;
// Part B: as many busy connections as the default matrix's largest point.
constexpr int kBusyConnections = 256;
// server-thread-per-conn's default --stack-size (servers/thread_per_conn.cpp): the
// address space each connection thread reserves.
constexpr uint64_t kStackBytes = 256 * 1024;
// Descriptors the harness needs beyond one per connection: the probe, the
// sampler, the server's pipes and files (the loadgen asks for the same margin).
constexpr uint64_t kFdMargin = 256;

// Windows: the open-loop 2,000 req/s over 500 ms gives 1,000 samples for a p99;
// the busy cases' 600 ms give the probe 24 newcomers per repetition.
constexpr milliseconds kWarmup{200};
constexpr milliseconds kIdleDuration{500};
constexpr milliseconds kBusyDuration{600};

// How long the idle cases wait for their connections to come up: the loadgen's
// 10 s default would spend most of the budget on server-thread-per-conn at 8,192,
// which does not get them all up in 10 s here; how many did within this bound is
// the finding (measurement.connections_up), as for a serial server.
constexpr milliseconds kIdleBringup{3000};

// The probe: one newcomer every 25 ms (start to start), each given up after 2 s.
constexpr milliseconds kProbeInterval{25};
constexpr milliseconds kProbeTimeout{2000};
constexpr uint32_t kProbeBytes = kTinyBytes;

// ---- the machine's limits ------------------------------------------------------

// Raises the harness's descriptor soft limit to its hard limit: the loadgen
// lives here, and the server child inherits the limit at fork. Returns the limit.
uint64_t raise_nofile() {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
    if (rl.rlim_cur != rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
        ::getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : rl.rlim_cur;
}

uint64_t mem_available_kb() {
    std::ifstream in("/proc/meminfo");
    std::string key;
    uint64_t kb = 0;
    while (in >> key >> kb) {
        if (key == "MemAvailable:") return kb;
        in.ignore(256, '\n');
    }
    return 0;
}

// How many local ports connect() can pick from (net.ipv4.ip_local_port_range).
uint64_t ephemeral_ports() {
    std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
    uint64_t lo = 0, hi = 0;
    if (!(in >> lo >> hi) || hi < lo) return 0;
    return hi - lo + 1;
}

bool is_thread_per_conn(const CaseSpec& spec) {
    return spec.pattern == "thread-per-conn";
}

// Connection threads the server would start: one per connection, up to the bound.
uint64_t connection_threads(const CaseSpec& spec) {
    if (!is_thread_per_conn(spec)) return 0;
    auto n = static_cast<uint64_t>(spec.connections);
    auto it = std::find(spec.server_args.begin(), spec.server_args.end(), "--max-threads");
    if (it != spec.server_args.end() && it + 1 != spec.server_args.end())
        n = std::min<uint64_t>(n, std::stoull(*(it + 1)));
    return n;
}

// Why this machine cannot run `spec`, or nothing. Called after raise_nofile().
std::optional<std::string> skip_reason(const CaseSpec& spec, uint64_t nofile) {
    const auto need_fds = static_cast<uint64_t>(spec.connections) + kFdMargin;
    if (nofile < need_fds)
        return fmt::format("RLIMIT_NOFILE hard limit {} < {} descriptors the {} connections need",
                           nofile, need_fds, spec.connections);
    if (uint64_t ports = ephemeral_ports(); ports > 0 && ports < need_fds)
        return fmt::format("ephemeral port range has {} ports < {} connections", ports,
                           spec.connections);
    const uint64_t stacks_kb = connection_threads(spec) * kStackBytes / 1024;
    if (uint64_t avail = mem_available_kb(); stacks_kb > 0 && avail > 0 && avail < stacks_kb)
        return fmt::format("MemAvailable {} kB < {} threads x {} kB stacks", avail,
                           connection_threads(spec), kStackBytes / 1024);
    return std::nullopt;
}

// ---- the probe -----------------------------------------------------------------

enum class ProbeResult { kReplied, kRefused, kTimedOut };

struct ProbeLog {
    std::vector<double> first_reply_us;  // connect() to the whole first reply
    int refused = 0;                     // connect failed, or closed before replying
    int timed_out = 0;                   // no reply within kProbeTimeout
};

// Waits for `events` on fd until `deadline_ns`; false on timeout.
bool wait_for(int fd, short events, int64_t deadline_ns) {
    for (;;) {
        int64_t left_ms = (deadline_ns - pb::now_ns()) / 1'000'000;
        if (left_ms <= 0) return false;
        pollfd p{fd, events, 0};
        int r = ::poll(&p, 1, static_cast<int>(left_ms));
        if (r > 0) return true;
        if (r == 0) return false;
        if (errno != EINTR) return false;
    }
}

// Reads exactly n bytes or reports why not.
ProbeResult read_exact(int fd, uint8_t* out, size_t n, int64_t deadline_ns) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = ::recv(fd, out + got, n - got, 0);
        if (r > 0) {
            got += static_cast<size_t>(r);
            continue;
        }
        if (r == 0) return ProbeResult::kRefused;  // closed without a reply
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return ProbeResult::kRefused;  // RST
        if (!wait_for(fd, POLLIN, deadline_ns)) return ProbeResult::kTimedOut;
    }
    return ProbeResult::kReplied;
}

// One newcomer: a fresh connection, one 64-byte frame request, its reply read
// and checked. Non-blocking throughout so that nothing waits past the deadline.
ProbeResult probe_once(uint16_t port, uint64_t id, int64_t deadline_ns) {
    pb::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return ProbeResult::kRefused;
    int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        if (errno != EINPROGRESS) return ProbeResult::kRefused;
        if (!wait_for(fd.get(), POLLOUT, deadline_ns)) return ProbeResult::kTimedOut;
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) return ProbeResult::kRefused;
    }
    std::vector<uint8_t> request(pb::frame::kRequestHeaderSize + kProbeBytes);
    pb::frame::RequestHeader h;
    h.body_len = kProbeBytes;
    h.reply_len = kProbeBytes;
    h.id = id;
    pb::frame::encode_request_header(h, request.data());
    pb::frame::fill_payload(id, 0, request.data() + pb::frame::kRequestHeaderSize, kProbeBytes);
    // 96 bytes into an empty socket buffer: one send takes them all.
    if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request.size()))
        return ProbeResult::kRefused;
    uint8_t reply[pb::frame::kReplyHeaderSize + kProbeBytes];
    ProbeResult r = read_exact(fd.get(), reply, sizeof reply, deadline_ns);
    if (r != ProbeResult::kReplied) return r;
    pb::frame::ReplyHeader rh;
    if (!pb::frame::decode_reply_header(reply, rh) || rh.id != id || rh.reply_len != kProbeBytes)
        return ProbeResult::kRefused;  // not this server's answer: counted with the failures
    return ProbeResult::kReplied;
}

// The `during` hook: a newcomer every kProbeInterval from the window's start to its end.
void run_probes(uint16_t port, const LoadWindow& window, ProbeLog& log) {
    lg::Timeline t;
    if (!window.wait(t)) return;
    const int64_t interval = std::chrono::nanoseconds(kProbeInterval).count();
    const int64_t timeout = std::chrono::nanoseconds(kProbeTimeout).count();
    int64_t next = t.measure_start;
    for (uint64_t id = 1;; ++id) {
        int64_t now = pb::now_ns();
        if (now < next) std::this_thread::sleep_for(std::chrono::nanoseconds(next - now));
        const int64_t start = pb::now_ns();
        if (start >= t.measure_end) return;
        switch (probe_once(port, id, start + timeout)) {
            case ProbeResult::kReplied:
                log.first_reply_us.push_back(static_cast<double>(pb::now_ns() - start) / 1e3);
                break;
            case ProbeResult::kRefused:
                ++log.refused;
                break;
            case ProbeResult::kTimedOut:
                ++log.timed_out;
                break;
        }
        next = std::max(next + interval, pb::now_ns());
    }
}

// Nearest-rank percentile of a sorted vector; NaN when empty.
double percentile(const std::vector<double>& sorted, double p) {
    if (sorted.empty()) return NAN;
    auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
    return sorted[std::min(sorted.size(), std::max<size_t>(rank, 1)) - 1];
}

// The server's own count of connections it closed at --max-threads.
double thread_cap_closes(const Accounted& a) {
    if (!a.stats.is_object()) return NAN;
    const Json* total = a.stats.find("total");
    const Json* errors = total ? total->find("errors") : nullptr;
    const Json* cap = errors ? errors->find("thread_cap") : nullptr;
    return cap ? static_cast<double>(cap->as_int()) : 0.0;
}

// ---- the cases -----------------------------------------------------------------

CaseSpec idle_case(const std::string& pattern, const std::string& variant, int connections) {
    CaseSpec c;
    c.pattern = pattern;
    c.protocol = "frame";
    c.workload = "idle-heavy";
    c.connections = connections;
    c.offered_rps = kIdleHeavyRps;
    c.variant = variant;
    c.warmup = kWarmup;
    c.duration = kIdleDuration;
    return c;
}

CaseSpec busy_case(const std::string& pattern) {
    CaseSpec c;
    c.pattern = pattern;
    c.protocol = "frame";
    c.workload = "cpu";
    c.connections = kBusyConnections;
    c.variant = "busy";
    c.warmup = kWarmup;
    c.duration = kBusyDuration;
    return c;
}

std::vector<CaseSpec> overload_cases() {
    std::vector<CaseSpec> out;
    const std::string bounded = fmt::format("idle-max{}", kThreadBound);
    for (int n : kIdleCounts) {
        out.push_back(idle_case("thread-per-conn", "idle", n));
        CaseSpec b = idle_case("thread-per-conn", bounded, n);
        b.server_args = {"--max-threads", std::to_string(kThreadBound)};
        out.push_back(b);
        out.push_back(idle_case("worker-queue", "idle", n));
        out.push_back(idle_case("single", "idle", n));
    }
    for (const char* p : {"thread-per-conn", "worker-queue", "single"}) out.push_back(busy_case(p));
    return out;
}

// The probe during the load; the bring-up, the server's thread-cap closes and
// the probe's figures after it. `nofile`: the descriptor limit the case ran with.
CaseHooks overload_hooks(const CaseSpec& spec, uint64_t nofile) {
    auto log = std::make_shared<ProbeLog>();
    CaseHooks h;
    if (spec.workload == "idle-heavy")
        h.loadgen = [](lg::Config& c) { c.bringup_timeout = kIdleBringup; };
    h.during = [log](ServerChild& server, const LoadWindow& window) {
        run_probes(server.port(), window, *log);
    };
    h.finish = [log, spec, nofile](const Measured& m, const Accounted& a, Counters& counters,
                                   Json& experiment) {
        const auto& up = m.result.bringup;
        const int came_up = up ? up->up : spec.connections;
        counters.emplace_back("connections_up", came_up);
        counters.emplace_back("refused", spec.connections - came_up);
        if (up) counters.emplace_back("bringup_s", up->seconds);
        if (double cap = thread_cap_closes(a); !std::isnan(cap))
            counters.emplace_back("thread_cap_closes", cap);
        std::vector<double> sorted = log->first_reply_us;
        std::sort(sorted.begin(), sorted.end());
        counters.emplace_back("probes", static_cast<double>(sorted.size()));
        counters.emplace_back("probe_refused", log->refused);
        counters.emplace_back("probe_timeouts", log->timed_out);
        if (!sorted.empty()) {
            counters.emplace_back("probe_p50_us", percentile(sorted, 50));
            counters.emplace_back("probe_p99_us", percentile(sorted, 99));
            counters.emplace_back("probe_max_us", sorted.back());
        }
        Json times = Json::array();
        for (double us : log->first_reply_us) times.push(us);
        experiment.set("probe_first_reply_us", std::move(times));
        experiment.set("probe_interval_ms", static_cast<int64_t>(kProbeInterval.count()));
        experiment.set("probe_timeout_ms", static_cast<int64_t>(kProbeTimeout.count()));
        experiment.set("max_threads", is_thread_per_conn(spec) && !spec.server_args.empty()
                                          ? Json(kThreadBound)
                                          : Json());
        experiment.set("stack_kb", is_thread_per_conn(spec) ? Json(kStackBytes / 1024) : Json());
        experiment.set("nofile_limit", nofile);
    };
    return h;
}

Outcome run_overload(const CaseSpec& spec, const RunnerOptions& options) {
    const uint64_t nofile = raise_nofile();
    if (auto why = skip_reason(spec, nofile)) {
        Outcome o;
        o.error = "skipped: " + *why;
        return o;
    }
    return run_case(spec, options, overload_hooks(spec, nofile));
}

}  // namespace

Experiment overload_experiment() {
    Experiment e;
    e.name = "overload";
    e.claims = {"P4", "P5"};
    e.cases = overload_cases;
    e.hooks = [](const CaseSpec& spec) { return overload_hooks(spec, raise_nofile()); };
    e.run = run_overload;
    return e;
}

}  // namespace pb::bench
