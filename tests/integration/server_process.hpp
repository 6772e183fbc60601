// Starts a server binary as a child process on 127.0.0.1:0 and reads the port
// from its "listening HOST:PORT" line. Its stderr goes to a file, so a test can
// look for sanitizer reports after it exits.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pbtest {

using namespace std::chrono_literals;

// Absolute path of a built binary ("server-single", "loadgen", ...).
std::string bin_path(const std::string& name);

struct SpawnOptions {
    long rlimit_nofile = 0;  // > 0: RLIMIT_NOFILE for the child
    std::chrono::milliseconds start_timeout = 10s;
    // A command to run the server under ({"/usr/bin/strace", "-f", ..., "--"}):
    // pid() is then that command's, and the server is its child.
    std::vector<std::string> prefix = {};
};

class ServerProcess {
public:
    ServerProcess(const std::string& binary, std::vector<std::string> args = {},
                  SpawnOptions spawn = {});
    ~ServerProcess();  // SIGKILLs a child still running
    ServerProcess(const ServerProcess&) = delete;
    ServerProcess& operator=(const ServerProcess&) = delete;

    uint16_t port() const { return port_; }
    pid_t pid() const { return pid_; }
    const std::string& binary() const { return binary_; }

    // Sends `sig` and waits. Returns the exit status, 128+signal if it died of
    // a signal, or -1 if it did not exit within `timeout` (it is then killed).
    int stop(int sig = SIGTERM_VALUE, std::chrono::milliseconds timeout = 20s);
    // Waits without signalling (for a child expected to exit by itself).
    int wait(std::chrono::milliseconds timeout);
    bool running();

    std::string stderr_text() const;
    // True if the child printed an ASan/UBSan/TSan/LSan report.
    bool sanitizer_report() const;

    // From /proc/<pid>: open descriptors, threads, resident KiB, CPU seconds.
    size_t open_fds() const;
    size_t threads() const;
    long rss_kb() const;
    double cpu_seconds() const;

    static constexpr int SIGTERM_VALUE = 15;

private:
    std::string binary_;
    std::string stderr_path_;
    pid_t pid_ = -1;
    uint16_t port_ = 0;
    int exit_code_ = -2;
};

// Stops the server with SIGTERM and checks what every test wants: exit 0 and
// no sanitizer report.
void stop_cleanly(ServerProcess& server);

// Runs `binary` (a name for bin_path(): "server-uring") with --check-available:
// the line it printed, "server-uring: not available on this machine: <reason>",
// when it exits 69 (pb::kExitUnavailable); nullopt when it can run here, or fails
// in any other way (then the test that starts it fails, as it should).
std::optional<std::string> unavailable_reason(const std::string& binary);

// True when `binary` cannot run on this machine, asked once per binary; the first
// time it prints "skipping <that line>" to stderr. What every test that starts
// each pattern's server in turn calls first.
bool skip_unavailable(const std::string& binary);

}  // namespace pbtest
