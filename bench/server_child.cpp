#include "server_child.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "files.hpp"
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

ServerChild::ServerChild(std::vector<std::string> argv_text, const std::vector<int>& cpus,
                         std::chrono::milliseconds start_timeout) {
    char path[] = "/tmp/pbbench-server-stderr-XXXXXX";
    UniqueFd err(check_syscall(::mkostemp(path, O_CLOEXEC), "mkostemp"));
    stderr_path_ = path;
    int out[2];
    check_syscall(::pipe2(out, O_CLOEXEC), "pipe2");
    UniqueFd out_read(out[0]);
    UniqueFd out_write(out[1]);

    // Everything the child needs is prepared before fork: after it, only
    // async-signal-safe calls.
    std::vector<char*> argv;
    for (auto& a : argv_text) argv.push_back(a.data());
    argv.push_back(nullptr);
    cpu_set_t set = to_set(cpus);
    cgroup_ = make_server_cgroup();
    UniqueFd tasks;
    if (!cgroup_.empty()) tasks.reset(::open((cgroup_ + "/tasks").c_str(), O_WRONLY | O_CLOEXEC));

    pid_ = ::fork();
    if (pid_ < 0) throw_errno("fork");
    if (pid_ == 0) {
        // "0" moves the writing task; every thread the server starts stays in the group.
        // A refusal is not fatal: the parent sees the server missing from the group.
        if (tasks && ::write(tasks.get(), "0", 1) != 1) tasks.reset();
        ::dup2(out_write.get(), STDOUT_FILENO);
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
    out_write.reset();
    err.reset();

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
        throw std::runtime_error(fmt::format(
            "{} did not print 'listening HOST:PORT' (stdout: '{}', "
            "exit {}); stderr: {}",
            argv_text[0], line.substr(0, line.find('\n')), ignored.status, stderr_text(1000)));
    }
    port_ = static_cast<uint16_t>(std::stoi(line.substr(colon + 1)));
    // Use the cgroup only if the server really is in it (a container may let the
    // directory be made and refuse the move).
    if (!cgroup_.empty()) {
        std::istringstream members(slurp(cgroup_ + "/tasks"));
        for (pid_t p; members >> p;)
            if (p == pid_) cgroup_usage_ = cgroup_ + "/cpuacct.usage";
    }
}

ServerChild::~ServerChild() {
    if (pid_ > 0 && !reaped_) {
        Exit ignored;
        ::kill(pid_, SIGKILL);
        reap(true, ignored);
    }
    if (!stderr_path_.empty()) ::unlink(stderr_path_.c_str());
    if (!cgroup_.empty()) ::rmdir(cgroup_.c_str());  // empty once the child is reaped
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
    if (reaped_) return exit;
    ::kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + grace;
    while (!reap(false, exit)) {
        if (std::chrono::steady_clock::now() >= deadline) {
            exit.timed_out = true;
            ::kill(pid_, SIGKILL);
            reap(true, exit);
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
