#include "server_child.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <thread>

#include "files.hpp"
#include "server.hpp"
#include "unique_fd.hpp"

namespace pb::bench {

std::vector<int> parse_cpu_list(const std::string& text) {
    std::vector<int> cpus;
    std::stringstream in(text);
    std::string part;
    auto bad = [&] {
        return std::invalid_argument("bad CPU list '" + text + "' (try 0 or 0-1,3)");
    };
    while (std::getline(in, part, ',')) {
        if (part.empty()) throw bad();
        auto dash = part.find('-');
        try {
            size_t used = 0;
            int lo = std::stoi(part.substr(0, dash), &used);
            if (used != part.substr(0, dash).size()) throw bad();
            int hi = lo;
            if (dash != std::string::npos) {
                std::string rest = part.substr(dash + 1);
                hi = std::stoi(rest, &used);
                if (used != rest.size()) throw bad();
            }
            if (lo < 0 || hi < lo || hi >= CPU_SETSIZE) throw bad();
            for (int c = lo; c <= hi; ++c) cpus.push_back(c);
        } catch (const std::logic_error&) {
            throw bad();
        }
    }
    if (cpus.empty()) throw bad();
    return cpus;
}

std::string format_cpu_list(const std::vector<int>& cpus) {
    std::string out;
    for (size_t i = 0; i < cpus.size(); ++i) {
        size_t j = i;
        while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
        if (!out.empty()) out += ',';
        out += j > i ? fmt::format("{}-{}", cpus[i], cpus[j]) : std::to_string(cpus[i]);
        i = j;
    }
    return out;
}

namespace {

cpu_set_t to_set(const std::vector<int>& cpus) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c : cpus) CPU_SET(c, &set);
    return set;
}

}  // namespace

void pin_process(const std::vector<int>& cpus) {
    cpu_set_t set = to_set(cpus);
    check_syscall(::sched_setaffinity(0, sizeof set, &set), "sched_setaffinity");
}

namespace {

// A new cpuacct cgroup (v1) for one server, or "" where that is not possible
// (cgroup v2 only, not root, cpuacct not mounted).
std::string make_server_cgroup() {
    static unsigned serial = 0;
    for (const char* root : {"/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/cpu,cpuacct"}) {
        std::string dir = fmt::format("{}/patternbench-{}-{}", root, ::getpid(), ++serial);
        if (::mkdir(dir.c_str(), 0755) == 0) return dir;
    }
    return "";
}

}  // namespace

std::string unavailable_reason(const std::string& output) {
    constexpr std::string_view kMarker = "not available on this machine: ";
    auto trim = [](std::string_view t) {
        while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front())))
            t.remove_prefix(1);
        while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.remove_suffix(1);
        return std::string(t);
    };
    if (auto at = output.find(kMarker); at != std::string::npos) {
        std::string_view rest(output);
        rest.remove_prefix(at + kMarker.size());
        std::string reason = trim(rest.substr(0, rest.find('\n')));
        if (!reason.empty()) return reason;
    }
    std::string all = trim(output);
    return all.empty() ? "its server exited with status 69 and gave no reason" : all;
}

std::optional<std::string> check_unavailable(const std::string& binary,
                                             std::chrono::milliseconds timeout) {
    int out[2];
    check_syscall(::pipe2(out, O_CLOEXEC), "pipe2");
    UniqueFd out_read(out[0]);
    UniqueFd out_write(out[1]);
    std::string path = binary;
    std::string flag = "--check-available";
    char* argv[] = {path.data(), flag.data(), nullptr};
    const pid_t pid = ::fork();
    if (pid < 0) throw_errno("fork");
    if (pid == 0) {
        // stdout ("available") and stderr (the reason) both come back on the pipe.
        ::dup2(out_write.get(), STDOUT_FILENO);
        ::dup2(out_write.get(), STDERR_FILENO);
        ::close_range(3, ~0u, 0);
        ::execv(argv[0], argv);
        ::_exit(127);
    }
    out_write.reset();
    std::string text;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd p{out_read.get(), POLLIN, 0};
        if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
        char buf[512];
        ssize_t n = ::read(out_read.get(), buf, sizeof buf);
        if (n <= 0) break;
        if (text.size() < 4096) text.append(buf, static_cast<size_t>(n));
    }
    // Its output ends as it exits; the exit status follows a moment later.
    int status = 0;
    pid_t r = 0;
    while ((r = ::waitpid(pid, &status, WNOHANG)) == 0 &&
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (r != pid) {  // still running after the timeout: not an answer
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        return std::nullopt;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == pb::kExitUnavailable)
        return unavailable_reason(text);
    return std::nullopt;
}

uint16_t free_loopback_port() {
    UniqueFd fd(check_syscall(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket"));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    check_syscall(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), "bind");
    socklen_t len = sizeof a;
    check_syscall(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len), "getsockname");
    return ntohs(a.sin_port);
}

void ServerChild::spawn(std::vector<std::string>& argv_text, const std::vector<int>& cpus,
                        int out_fd) {
    char path[] = "/tmp/pbbench-server-stderr-XXXXXX";
    UniqueFd err(check_syscall(::mkostemp(path, O_CLOEXEC), "mkostemp"));
    stderr_path_ = path;
    if (out_fd < 0) out_fd = err.get();  // an external server's stdout joins its stderr

    // Everything the child needs is prepared before fork: after it, only
    // async-signal-safe calls.
    std::vector<char*> argv;
    for (auto& a : argv_text) argv.push_back(a.data());
    argv.push_back(nullptr);
    cpu_set_t set = to_set(cpus);
    cgroup_ = make_server_cgroup();
    UniqueFd tasks;
    if (!cgroup_.empty()) tasks.reset(::open((cgroup_ + "/tasks").c_str(), O_WRONLY | O_CLOEXEC));
    const bool own_group = group_;

    pid_ = ::fork();
    if (pid_ < 0) throw_errno("fork");
    if (pid_ == 0) {
        // "0" moves the writing task; every thread the server starts stays in the group.
        // A refusal is not fatal: the parent sees the server missing from the group.
        if (tasks && ::write(tasks.get(), "0", 1) != 1) tasks.reset();
        if (own_group) ::setpgid(0, 0);
        ::dup2(out_fd, STDOUT_FILENO);
        ::dup2(err.get(), STDERR_FILENO);
        // The bench's own descriptors (benchmark output, sockets) stay out of the server.
        ::close_range(3, ~0u, 0);
        if (!cpus.empty() && ::sched_setaffinity(0, sizeof set, &set) != 0) ::_exit(126);
        ::signal(SIGPIPE, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    // Both sides set the group, so that no signal sent after fork() returns can
    // miss it (setpgid fails harmlessly once the child has exec'd).
    if (own_group) ::setpgid(pid_, pid_);
}

// Use the cgroup only if the server really is in it (a container may let the
// directory be made and refuse the move).
void ServerChild::join_cgroup_check() {
    if (cgroup_.empty()) return;
    std::istringstream members(slurp(cgroup_ + "/tasks"));
    for (pid_t p; members >> p;)
        if (p == pid_) cgroup_usage_ = cgroup_ + "/cpuacct.usage";
}

ServerChild::ServerChild(std::vector<std::string> argv_text, const std::vector<int>& cpus,
                         std::chrono::milliseconds start_timeout) {
    int out[2];
    check_syscall(::pipe2(out, O_CLOEXEC), "pipe2");
    UniqueFd out_read(out[0]);
    UniqueFd out_write(out[1]);
    spawn(argv_text, cpus, out_write.get());
    out_write.reset();

    std::string line;
    auto deadline = std::chrono::steady_clock::now() + start_timeout;
    while (line.find('\n') == std::string::npos) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd p{out_read.get(), POLLIN, 0};
        if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
        char buf[256];
        ssize_t n = ::read(out_read.get(), buf, sizeof buf);
        if (n <= 0) break;
        line.append(buf, static_cast<size_t>(n));
    }
    auto colon = line.rfind(':');
    if (line.rfind("listening ", 0) != 0 || colon == std::string::npos) {
        Exit ignored;
        ::kill(pid_, SIGKILL);
        reap(true, ignored);
        if (ignored.status == pb::kExitUnavailable) {
            std::string reason = unavailable_reason(stderr_text(1000));
            cleanup();
            throw ServerUnavailable(reason);
        }
        std::string message = fmt::format(
            "{} did not print 'listening HOST:PORT' (stdout: '{}', "
            "exit {}); stderr: {}",
            argv_text[0], line.substr(0, line.find('\n')), ignored.status, stderr_text(1000));
        cleanup();  // a constructor that throws runs no destructor
        throw std::runtime_error(message);
    }
    port_ = static_cast<uint16_t>(std::stoi(line.substr(colon + 1)));
    join_cgroup_check();
}

ServerChild::ServerChild(const ShellCommand& command, const std::vector<int>& cpus,
                         std::chrono::milliseconds start_timeout) {
    // Orphans of the server (nginx's workers once their master exits) come back to
    // the harness, which reaps them in stop(), instead of to init.
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    group_ = true;
    std::vector<std::string> argv{"/bin/sh", "-c", command.line};
    spawn(argv, cpus, -1);
    port_ = command.port;
    wait_for_port(command.port, fmt::format("'{}' ({})", command.name, command.line),
                  start_timeout);
    join_cgroup_check();  // now: the child has long since moved itself into the cgroup
}

namespace {

std::string output_or_none(const std::string& text) {
    return text.empty() ? "(none)" : "'" + text + "'";
}

bool accepts_connection(uint16_t port) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return false;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
}

}  // namespace

// Polls 127.0.0.1:port until a connect succeeds; the command exiting first, or
// the timeout, is an error that quotes what the command wrote.
void ServerChild::wait_for_port(uint16_t port, const std::string& what,
                                std::chrono::milliseconds timeout) {
    constexpr auto kPoll = std::chrono::milliseconds(10);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (accepts_connection(port)) return;
        // A constructor that throws runs no destructor: clean up before throwing.
        Exit exit;
        if (reap(false, exit)) {
            std::string message = fmt::format(
                "external server {} exited with status {} before it accepted connections on "
                "127.0.0.1:{}; its output: {}",
                what, exit.status, port, output_or_none(stderr_text(1000)));
            cleanup();
            throw std::runtime_error(message);
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            std::string message = fmt::format(
                "external server {} did not accept connections on 127.0.0.1:{} within {:.1f} s "
                "(it must listen on the {{port}} it is given); its output: {}",
                what, port, std::chrono::duration<double>(timeout).count(),
                output_or_none(stderr_text(1000)));
            cleanup();
            throw std::runtime_error(message);
        }
        std::this_thread::sleep_for(kPoll);
    }
}

void ServerChild::kill_group(int sig) {
    // Once the group is gone its number may belong to someone else.
    if (pid_ > 0 && !group_gone_) ::kill(-pid_, sig);
    // A process that left the group (setsid) is still in the cgroup.
    if (!cgroup_.empty()) {
        std::istringstream members(slurp(cgroup_ + "/cgroup.procs"));
        for (pid_t p; members >> p;) ::kill(p, sig);
    }
}

// Reaps what of the group has exited; true while any of it is left.
bool ServerChild::group_alive() {
    for (;;) {
        int status = 0;
        pid_t r = ::waitpid(-pid_, &status, WNOHANG);
        if (r <= 0) break;
    }
    if (::kill(-pid_, 0) == 0) return true;
    group_gone_ = reaped_;
    return false;
}

ServerChild::~ServerChild() {
    cleanup();
}

void ServerChild::cleanup() {
    if (pid_ > 0 && !reaped_) {
        Exit ignored;
        if (group_) kill_group(SIGKILL);
        ::kill(pid_, SIGKILL);
        reap(true, ignored);
    }
    if (group_ && pid_ > 0) {
        kill_group(SIGKILL);
        for (int i = 0; i < 100 && group_alive(); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (!stderr_path_.empty()) ::unlink(stderr_path_.c_str());
    stderr_path_.clear();
    // Empty once the child (and, for an external server, its group) is reaped; the
    // kernel may take a moment after the last exit.
    for (int i = 0; !cgroup_.empty() && i < 50 && ::rmdir(cgroup_.c_str()) != 0 && errno == EBUSY;
         ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    cgroup_.clear();
}

bool ServerChild::reap(bool block, Exit& exit) {
    int status = 0;
    pid_t r;
    do {
        r = ::wait4(pid_, &status, block ? 0 : WNOHANG, &exit.usage);
    } while (r < 0 && errno == EINTR);
    if (r != pid_) return false;
    reaped_ = true;
    exit.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return true;
}

bool ServerChild::running() {
    if (reaped_) return false;
    Exit ignored;
    return !reap(false, ignored);
}

Exit ServerChild::stop(std::chrono::milliseconds grace) {
    Exit exit;
    if (reaped_ && !group_) return exit;
    if (group_)
        kill_group(SIGTERM);
    else
        ::kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + grace;
    // Done when the child is reaped and, for a group, every member of it too.
    auto done = [&] { return (reaped_ || reap(false, exit)) && (!group_ || !group_alive()); };
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline) {
            exit.timed_out = true;
            if (group_) kill_group(SIGKILL);
            ::kill(pid_, SIGKILL);
            if (!reaped_) reap(true, exit);
            for (int i = 0; group_ && i < 200 && group_alive(); ++i)
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return exit;
}

std::string ServerChild::stderr_text(size_t limit) const {
    std::ifstream f(stderr_path_);
    std::string text((std::istreambuf_iterator<char>(f)), {});
    if (text.size() > limit) text = text.substr(0, limit) + "...";
    return text;
}

}  // namespace pb::bench
