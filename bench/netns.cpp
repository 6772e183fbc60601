#include "netns.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <sstream>
#include <thread>

#include "case_steps.hpp"
#include "files.hpp"

extern char** environ;

namespace pb::bench {

namespace {

// Addresses inside the namespaces only: nothing on the host routes to them.
constexpr const char* kServerAddr = "10.231.0.1";
constexpr const char* kClientAddr = "10.231.0.2";
constexpr const char* kPrefixLength = "/24";
constexpr const char* kNamePrefix = "pbexp-";

std::string find_ip() {
    for (const char* p : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"})
        if (::access(p, X_OK) == 0) return p;
    return "";
}

// "pbexp-s-<pid>-<n>" of a harness that is gone (killed before its destructors
// ran): deleted, so namespaces do not pile up across crashed runs.
void remove_stale(const std::string& ip) {
    DIR* d = ::opendir("/run/netns");
    if (!d) return;
    std::vector<std::string> stale;
    while (dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name.rfind(kNamePrefix, 0) != 0) continue;
        unsigned long pid = 0;
        char side = 0;
        unsigned n = 0;
        if (std::sscanf(name.c_str() + std::strlen(kNamePrefix), "%c-%lu-%u", &side, &pid, &n) != 3)
            continue;
        if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) stale.push_back(name);
    }
    ::closedir(d);
    std::string out;
    for (const auto& name : stale) run_command({ip, "netns", "del", name}, out);
}

}  // namespace

int run_command(const std::vector<std::string>& argv, std::string& output) {
    output.clear();
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return -1;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    if (rc != 0) {
        ::close(fds[0]);
        output = std::strerror(rc);
        return -1;
    }
    char buf[512];
    for (;;) {
        ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n > 0) {
            output.append(buf, static_cast<size_t>(n));
        } else if (n == 0 || errno != EINTR) {
            break;
        }
    }
    ::close(fds[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

VethPair::VethPair(int mtu) : server_addr_(kServerAddr), mtu_(mtu) {
    if (::geteuid() != 0) throw NetnsUnavailable("network namespaces need root");
    const std::string ip = find_ip();
    if (ip.empty()) throw NetnsUnavailable("no ip(8) (iproute2) in /usr/sbin, /sbin or /usr/bin");
    remove_stale(ip);
    static std::atomic<unsigned> serial{0};
    const unsigned n = serial++;
    const long pid = static_cast<long>(::getpid());
    server_ns_ = fmt::format("{}s-{}-{}", kNamePrefix, pid, n);
    client_ns_ = fmt::format("{}c-{}-{}", kNamePrefix, pid, n);
    // Interface names hold at most 15 characters: "pbv" + pid + side + n % 100.
    server_if_ = fmt::format("pbv{}s{}", pid, n % 100);
    client_if_ = fmt::format("pbv{}c{}", pid, n % 100);

    auto step = [&](std::vector<std::string> args) {
        args.insert(args.begin(), ip);
        std::string out;
        int rc = run_command(args, out);
        if (rc == 0) return;
        std::string cmd;
        for (size_t i = 1; i < args.size(); ++i) cmd += (i > 1 ? " " : "") + args[i];
        remove();
        throw NetnsUnavailable(fmt::format("'ip {}' failed ({}): {}", cmd, rc, out));
    };
    step({"netns", "add", server_ns_});
    made_[0] = true;
    step({"netns", "add", client_ns_});
    made_[1] = true;
    step({"link", "add", server_if_, "type", "veth", "peer", "name", client_if_});
    step({"link", "set", server_if_, "netns", server_ns_});
    step({"link", "set", client_if_, "netns", client_ns_});
    step({"-n", server_ns_, "addr", "add", std::string(kServerAddr) + kPrefixLength, "dev",
          server_if_});
    step({"-n", client_ns_, "addr", "add", std::string(kClientAddr) + kPrefixLength, "dev",
          client_if_});
    const std::string m = std::to_string(mtu);
    step({"-n", server_ns_, "link", "set", server_if_, "mtu", m, "up"});
    step({"-n", client_ns_, "link", "set", client_if_, "mtu", m, "up"});
}

VethPair::~VethPair() {
    remove();
}

void VethPair::remove() {
    const std::string ip = find_ip();
    std::string out;
    // A veth end still in this namespace (made, not yet moved) goes with its peer.
    if (!server_if_.empty()) run_command({ip, "link", "del", server_if_}, out);
    if (made_[0]) run_command({ip, "netns", "del", server_ns_}, out);
    if (made_[1]) run_command({ip, "netns", "del", client_ns_}, out);
    made_[0] = made_[1] = false;
    server_if_.clear();
}

void VethPair::limit_egress(bool client_side, const std::string& rate,
                            const std::string& latency) const {
    std::string tc;
    for (const char* p : {"/usr/sbin/tc", "/sbin/tc", "/usr/bin/tc"})
        if (tc.empty() && ::access(p, X_OK) == 0) tc = p;
    if (tc.empty()) throw NetnsUnavailable("no tc(8) (iproute2) in /usr/sbin, /sbin or /usr/bin");
    const std::string& ns = client_side ? client_ns_ : server_ns_;
    const std::string& dev = client_side ? client_if_ : server_if_;
    std::string out;
    int rc = run_command({tc, "-n", ns, "qdisc", "add", "dev", dev, "root", "tbf", "rate", rate,
                          "burst", std::to_string(2 * mtu_), "latency", latency},
                         out);
    if (rc != 0) throw NetnsUnavailable(fmt::format("tc tbf on {} failed ({}): {}", dev, rc, out));
}

void VethPair::sysctl_both(const std::string& key, const std::string& value) const {
    std::string path = "/proc/sys/" + key;
    for (char& ch : path)
        if (ch == '.') ch = '/';
    for (const auto& ns : {server_ns_, client_ns_}) {
        std::string error;
        // /proc/sys/net is the namespace of the thread that opens it.
        run_in_netns(ns, [&] {
            std::ofstream f(path);
            f << value << '\n';
            f.close();
            if (!f) error = std::strerror(errno);
        });
        if (!error.empty())
            throw NetnsUnavailable(fmt::format("{}={} refused in {}: {}", key, value, ns, error));
    }
}

void run_in_netns(const std::string& ns, const std::function<void()>& fn) {
    const std::string path = "/run/netns/" + ns;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw NetnsUnavailable(fmt::format("open {}: {}", path, std::strerror(errno)));
    std::exception_ptr failure;
    std::thread t([&] {
        try {
            if (::setns(fd, CLONE_NEWNET) != 0)
                throw NetnsUnavailable(fmt::format("setns {}: {}", ns, std::strerror(errno)));
            fn();
        } catch (...) {
            failure = std::current_exception();
        }
    });
    t.join();
    ::close(fd);
    if (failure) std::rethrow_exception(failure);
}

std::map<std::string, int64_t> thread_tcp_ext() {
    std::map<std::string, int64_t> out;
    std::ifstream f("/proc/thread-self/net/netstat");
    std::string names, values;
    while (std::getline(f, names) && std::getline(f, values)) {
        if (names.rfind("TcpExt:", 0) != 0) continue;
        std::istringstream n(names), v(values);
        std::string name, skip;
        int64_t value = 0;
        n >> skip;
        v >> skip;
        while (n >> name && v >> value) out[name] = value;
    }
    return out;
}

std::vector<std::string> netns_server_argv(const VethPair& net, std::vector<std::string> argv) {
    for (size_t i = 0; i + 1 < argv.size(); ++i)
        if (argv[i] == "--host") argv[i + 1] = net.server_addr();
    argv.insert(argv.begin(), {find_ip(), "netns", "exec", net.server_ns()});
    return argv;
}

namespace {

// A scratch directory for the server's stats file, removed with it.
struct StatsDir {
    std::string path, stats;
    StatsDir() {
        char dir_template[] = "/tmp/pbbench-netns-XXXXXX";
        if (!::mkdtemp(dir_template)) throw std::runtime_error("mkdtemp failed");
        path = dir_template;
        stats = path + "/stats.json";
    }
    ~StatsDir() {
        std::remove(stats.c_str());
        std::remove((stats + ".snapshots").c_str());
        ::rmdir(path.c_str());
    }
};

}  // namespace

void run_across(
    const VethPair& net, const CaseSpec& spec, const RunnerOptions& options,
    const std::function<pb::loadgen::Result(const std::string& host, uint16_t port)>& load,
    Measured& m, Accounted& a) {
    StatsDir dir;
    m.argv = netns_server_argv(net, server_argv(spec, options, dir.stats));
    {
        ServerChild server(m.argv, options.placement.server_cpus);
        run_in_netns(net.client_ns(), [&] { m.result = load(net.server_addr(), server.port()); });
        m.last = read_proc(server.pid());
        m.exit = server.stop();
        m.server_stderr = server.stderr_text();
    }
    std::string text = slurp(dir.stats);
    try {
        if (!text.empty()) a.stats = pb::loadgen::Json::parse(text);
    } catch (const std::exception& e) {
        a.warning += fmt::format("unreadable stats file: {}; ", e.what());
    }
    if (text.empty()) a.warning += "the server wrote no stats file; ";
}

Outcome across_outcome(const CaseSpec& spec, const RunnerOptions& options, Counters counters,
                       const Measured& m, const Accounted& a, pb::loadgen::Json experiment) {
    Outcome out;
    out.ok = true;
    out.counters = std::move(counters);
    const auto& st = m.result.stats;
    if (st.errors.total() > 0)
        out.warning += fmt::format("{} client errors ({}); ", st.errors.total(),
                                   st.error_samples.empty() ? "" : st.error_samples.front());
    if (m.exit.status != 0 || m.exit.timed_out)
        out.warning += fmt::format("server exit status {}{}; ", m.exit.status,
                                   m.exit.timed_out ? " (killed after the grace time)" : "");
    out.warning += a.warning;
    out.measured_seconds = m.result.duration_s;
    out.document = case_document(spec, options, out.counters, m, a, out.warning);
    out.document.set("experiment", std::move(experiment));
    return out;
}

Outcome skipped_outcome(const CaseSpec& spec, const RunnerOptions& options,
                        const std::string& reason) {
    Outcome out;
    out.ok = true;
    out.warning = "skipped: " + reason;
    Measured m;
    Accounted a;
    out.document = case_document(spec, options, out.counters, m, a, out.warning);
    pb::loadgen::Json exp = pb::loadgen::Json::object();
    exp.set("skipped", reason);
    out.document.set("experiment", std::move(exp));
    return out;
}

}  // namespace pb::bench
