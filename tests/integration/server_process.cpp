#include "server_process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "server.hpp"

namespace pbtest {

std::string bin_path(const std::string& name) {
    // Servers live in servers/, the load generator in loadgen/ of the build tree.
    std::string servers = PB_BIN_DIR;
    if (name.rfind("server-", 0) == 0) return servers + "/" + name;
    return servers + "/../" + name + "/" + name;
}

ServerProcess::ServerProcess(const std::string& binary, std::vector<std::string> args,
                             SpawnOptions spawn)
    : binary_(binary) {
    char tmpl[] = "/tmp/pbtest-stderr-XXXXXX";
    int err_fd = ::mkstemp(tmpl);
    if (err_fd < 0) throw std::runtime_error("mkstemp failed");
    stderr_path_ = tmpl;
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");

    std::vector<std::string> argv_s{bin_path(binary), "--host", "127.0.0.1", "--port", "0"};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    argv_s.insert(argv_s.begin(), spawn.prefix.begin(), spawn.prefix.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);

    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        ::dup2(out[1], 1);
        ::dup2(err_fd, 2);
        if (spawn.rlimit_nofile > 0) {
            rlimit rl{static_cast<rlim_t>(spawn.rlimit_nofile),
                      static_cast<rlim_t>(spawn.rlimit_nofile)};
            ::setrlimit(RLIMIT_NOFILE, &rl);
        }
        // Leave SIGPIPE at its default: a server must survive it on its own.
        ::signal(SIGPIPE, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    ::close(out[1]);
    ::close(err_fd);

    // Read the "listening HOST:PORT" line.
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + spawn.start_timeout;
    while (line.find('\n') == std::string::npos) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd p{out[0], POLLIN, 0};
        if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
        char buf[256];
        ssize_t n = ::read(out[0], buf, sizeof buf);
        if (n <= 0) break;
        line.append(buf, static_cast<size_t>(n));
    }
    ::close(out[0]);
    auto colon = line.rfind(':');
    if (line.rfind("listening ", 0) != 0 || colon == std::string::npos) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
        throw std::runtime_error(binary + " did not announce a port; stdout: '" + line +
                                 "' stderr: " + stderr_text());
    }
    port_ = static_cast<uint16_t>(std::stoi(line.substr(colon + 1)));
}

ServerProcess::~ServerProcess() {
    if (pid_ > 0 && exit_code_ == -2) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
    if (!stderr_path_.empty()) ::unlink(stderr_path_.c_str());
}

int ServerProcess::wait(std::chrono::milliseconds timeout) {
    if (exit_code_ != -2) return exit_code_;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int status = 0;
        pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            return exit_code_;
        }
        if (std::chrono::steady_clock::now() > deadline) return -1;
        std::this_thread::sleep_for(5ms);
    }
}

int ServerProcess::stop(int sig, std::chrono::milliseconds timeout) {
    if (exit_code_ != -2) return exit_code_;
    ::kill(pid_, sig);
    int code = wait(timeout);
    if (code == -1) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        exit_code_ = -1;
    }
    return code;
}

bool ServerProcess::running() {
    return wait(0ms) == -1;
}

std::string ServerProcess::stderr_text() const {
    std::ifstream f(stderr_path_);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

bool ServerProcess::sanitizer_report() const {
    std::string text = stderr_text();
    for (const char* marker :
         {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer",
          "runtime error:", "ERROR: ThreadSanitizer", "SUMMARY: UndefinedBehaviorSanitizer"}) {
        if (text.find(marker) != std::string::npos) return true;
    }
    return false;
}

size_t ServerProcess::open_fds() const {
    std::string path = "/proc/" + std::to_string(pid_) + "/fd";
    DIR* dir = ::opendir(path.c_str());
    if (!dir) return 0;
    size_t n = 0;
    while (dirent* e = ::readdir(dir)) {
        if (e->d_name[0] != '.') ++n;
    }
    ::closedir(dir);
    return n;
}

namespace {
long status_field(pid_t pid, const char* key) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind(key, 0) == 0) return std::stol(line.substr(std::strlen(key)));
    }
    return 0;
}
}  // namespace

size_t ServerProcess::threads() const {
    return static_cast<size_t>(status_field(pid_, "Threads:"));
}
long ServerProcess::rss_kb() const {
    return status_field(pid_, "VmRSS:");
}

double ServerProcess::cpu_seconds() const {
    std::ifstream f("/proc/" + std::to_string(pid_) + "/stat");
    std::string text((std::istreambuf_iterator<char>(f)), {});
    auto close_paren = text.rfind(')');
    if (close_paren == std::string::npos) return 0;
    std::istringstream in(text.substr(close_paren + 2));
    std::string field;
    unsigned long utime = 0, stime = 0;
    // Fields after the command: state(3) ... utime(14) stime(15).
    for (int i = 3; i <= 15 && in >> field; ++i) {
        if (i == 14) utime = std::stoul(field);
        if (i == 15) stime = std::stoul(field);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::optional<std::string> unavailable_reason(const std::string& binary) {
    std::string path = bin_path(binary);
    std::string flag = "--check-available";
    char* argv[] = {path.data(), flag.data(), nullptr};
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        ::dup2(out[1], 1);
        ::dup2(out[1], 2);
        ::execv(argv[0], argv);
        ::_exit(127);
    }
    ::close(out[1]);
    std::string text;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd p{out[0], POLLIN, 0};
        if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
        char buf[512];
        ssize_t n = ::read(out[0], buf, sizeof buf);
        if (n <= 0) break;
        text.append(buf, static_cast<size_t>(n));
    }
    ::close(out[0]);
    int status = 0;
    pid_t r = 0;
    while ((r = ::waitpid(pid, &status, WNOHANG)) == 0 &&
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(1ms);
    if (r != pid) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        return std::nullopt;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != pb::kExitUnavailable) return std::nullopt;
    // The one line that says why; the whole output when there is no such line.
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);)
        if (line.find("not available on this machine") != std::string::npos) return line;
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return binary + ": not available on this machine: " +
           (text.empty() ? "exit status 69, no reason given" : text);
}

bool skip_unavailable(const std::string& binary) {
    static std::mutex mu;
    static std::map<std::string, std::optional<std::string>> known;
    std::lock_guard lock(mu);
    auto it = known.find(binary);
    if (it == known.end()) {
        it = known.emplace(binary, unavailable_reason(binary)).first;
        if (it->second) std::fprintf(stderr, "skipping %s\n", it->second->c_str());
    }
    return it->second.has_value();
}

void stop_cleanly(ServerProcess& server) {
    int code = server.stop();
    INFO(server.binary() << " stderr:\n" << server.stderr_text());
    CHECK(code == 0);
    CHECK_FALSE(server.sanitizer_report());
}

}  // namespace pbtest
