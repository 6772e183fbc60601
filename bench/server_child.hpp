// One server under test: a child process started with fork/exec on a chosen CPU
// set, its port read from the "listening HOST:PORT" line, stopped with SIGTERM.
// An external server (--external, bench/README.md "External servers") is a shell
// line instead: it runs in a process group of its own on the port the harness
// chose, is ready when that port accepts a connection, and is stopped with
// SIGTERM to the whole group, SIGKILL after the grace time.
// The harness owns at most one of these at a time; a destructor that finds the
// child still running kills it, so an exception never leaves a server behind.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace pb::bench {

// "0", "1", "0-1,3" → {0, 1, 3}. Throws std::invalid_argument on bad text.
std::vector<int> parse_cpu_list(const std::string& text);
std::string format_cpu_list(const std::vector<int>& cpus);

// Pins the calling process (and the threads it starts later) to `cpus`.
// Throws std::system_error when the kernel refuses.
void pin_process(const std::vector<int>& cpus);

struct Exit {
    int status = -1;         // exit code, 128 + signal when killed, -1 when never reaped
    bool timed_out = false;  // did not exit after SIGTERM within the grace time
    rusage usage{};          // the whole life of the process, every thread included
};

// An external server's command: `line` runs under /bin/sh -c; it must listen on
// 127.0.0.1:`port` (the harness substituted the port into the line).
struct ShellCommand {
    std::string line;
    uint16_t port = 0;
    std::string name;  // for errors: --external's NAME
};

// A server that cannot run on this machine at all: it exited with
// pb::kExitUnavailable (69) before it listened. what() is its reason.
struct ServerUnavailable : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Asks `binary --check-available` whether its pattern can run here (core/server.hpp):
// the reason when it exits 69, nullopt when it exits 0 or fails in any other way
// (a binary that cannot even answer fails again, with its own error, at case
// start). Waits at most `timeout`, then kills it.
std::optional<std::string> check_unavailable(
    const std::string& binary, std::chrono::milliseconds timeout = std::chrono::seconds(10));

// The reason in what a server that exited 69 wrote: the text after "not available
// on this machine: " on that line, else the whole text trimmed, else a fixed phrase.
std::string unavailable_reason(const std::string& output);

// A port on 127.0.0.1 nothing listens on now (bound to port 0, then released),
// for an external server to listen on.
uint16_t free_loopback_port();

class ServerChild {
public:
    // argv[0] is the binary's path. Throws std::runtime_error (with the child's
    // stderr) when the binary does not announce a port within `start_timeout`;
    // ServerUnavailable when it exits 69 first (not available on this machine).
    ServerChild(std::vector<std::string> argv, const std::vector<int>& cpus,
                std::chrono::milliseconds start_timeout = std::chrono::seconds(10));
    // An external server: `command.line` under /bin/sh -c in a process group of its
    // own (every process it forks stays in it and in the cgroup). Throws
    // std::runtime_error, with what the command wrote, when it exits first or its
    // port accepts no connection within `start_timeout`.
    ServerChild(const ShellCommand& command, const std::vector<int>& cpus,
                std::chrono::milliseconds start_timeout);
    ~ServerChild();
    ServerChild(const ServerChild&) = delete;
    ServerChild& operator=(const ServerChild&) = delete;

    pid_t pid() const { return pid_; }
    uint16_t port() const { return port_; }
    bool running();

    // SIGTERM, then waits up to `grace`; SIGKILL after that. An external server's
    // group gets the signals, and every process of it is reaped (the harness is their
    // subreaper) or, outside the group but inside its cgroup, killed.
    Exit stop(std::chrono::milliseconds grace = std::chrono::seconds(20));
    // What the child wrote to stderr (kept in a temporary file), at most `limit` bytes.
    std::string stderr_text(size_t limit = 4096) const;

    // The child runs in a cpuacct cgroup of its own where the machine has cgroup v1's
    // cpuacct (root only): this is its cpuacct.usage file, nanoseconds of CPU of every
    // task the server ever ran, charged as they run, including the part of a thread's
    // exit that getrusage() no longer sees. Empty when there is no such cgroup.
    const std::string& cgroup_usage_path() const { return cgroup_usage_; }
    // Its cgroup.procs file (every process of the server), empty without the cgroup.
    std::string cgroup_procs_path() const {
        return cgroup_usage_.empty() ? std::string() : cgroup_ + "/cgroup.procs";
    }
    bool process_group() const { return group_; }

private:
    // fork + exec of `argv` on `cpus`; stdout to `out_fd`, stderr to the temp file.
    void spawn(std::vector<std::string>& argv, const std::vector<int>& cpus, int out_fd);
    void join_cgroup_check();
    void wait_for_port(uint16_t port, const std::string& what, std::chrono::milliseconds timeout);
    bool group_alive();
    void cleanup();  // kills and reaps what is left, removes the temp file and cgroup
    void kill_group(int sig);
    bool reap(bool block, Exit& exit);

    pid_t pid_ = -1;
    uint16_t port_ = 0;
    std::string stderr_path_;
    std::string cgroup_;  // its directory, removed once the child is reaped
    std::string cgroup_usage_;
    bool reaped_ = false;
    bool group_ = false;  // an external server: signals go to the process group
    bool group_gone_ = false;
};

}  // namespace pb::bench
