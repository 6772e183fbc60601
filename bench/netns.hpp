// Network namespaces of an experiment's own (ip-netns(8)), for the claims
// experiments loopback cannot give: a link with a 1500-byte MTU (loopback's is
// 64 KiB, so a 1448-byte segment never forms there) and per-namespace sysctls
// (net.ipv4.tcp_fastopen) that leave the host's untouched. The server runs in
// one namespace (`ip netns exec`), the client's sockets in the other (a thread
// that joined it with setns). Root only; everything made is deleted again,
// also when the case throws.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "case_runner.hpp"
#include "case_steps.hpp"

namespace pb::bench {

// Namespaces cannot be made here (not root, no ip(8), a kernel without
// CONFIG_NET_NS, a sysctl the namespace refuses): what() says which, and the
// experiment reports its claim as not measurable with it.
class NetnsUnavailable : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Runs argv (no shell) and waits: its exit status (-1: could not start it),
// with what it wrote to stdout and stderr in `output`.
int run_command(const std::vector<std::string>& argv, std::string& output);

// Two namespaces, the server's and the client's, joined by a veth pair.
class VethPair {
public:
    // Throws NetnsUnavailable, having removed whatever it had made.
    explicit VethPair(int mtu);
    ~VethPair();  // deletes both namespaces; the veth ends go with them
    VethPair(const VethPair&) = delete;
    VethPair& operator=(const VethPair&) = delete;

    const std::string& server_ns() const { return server_ns_; }
    const std::string& client_ns() const { return client_ns_; }
    const std::string& server_addr() const { return server_addr_; }
    int mtu() const { return mtu_; }

    // A token-bucket qdisc (tc-tbf(8)) on one end's egress: `rate` (tc's
    // units, "100mbit"), a burst of one MTU-sized packet's worth, and a queue of
    // at most `latency` ("20ms"). Throws NetnsUnavailable when tc refuses.
    void limit_egress(bool client_side, const std::string& rate, const std::string& latency) const;

    // Writes /proc/sys/<key> (dots for slashes) inside both namespaces. Throws
    // NetnsUnavailable when refused.
    void sysctl_both(const std::string& key, const std::string& value) const;

private:
    void remove();
    std::string server_ns_, client_ns_, server_addr_;
    std::string server_if_, client_if_;
    int mtu_ = 0;
    bool made_[2] = {false, false};
};

// Runs fn() on a thread that first joins network namespace `ns`: the sockets it
// opens, and the threads it starts, live there. Rethrows what fn() throws.
void run_in_netns(const std::string& ns, const std::function<void()>& fn);

// Every TcpExt counter of the calling thread's network namespace
// (/proc/thread-self/net/netstat: /proc/net follows the process's first
// thread, not the one that joined a namespace), by name; empty when unreadable.
std::map<std::string, int64_t> thread_tcp_ext();

// The server's command line from server_argv() moved into the server
// namespace: --host its address, started through `ip netns exec`.
std::vector<std::string> netns_server_argv(const VethPair& net, std::vector<std::string> argv);

// One case across the pair: the case's server (server_argv()) in the server
// namespace, `load` (given the server's address and port) on a thread in the
// client namespace, then SIGTERM. Fills the Measured (argv, the load's result,
// how the server ended) and the Accounted (its stats file; no window: the
// sampler's snapshots and socket readings do not cross namespaces). Throws
// what starting the server or the load throws.
void run_across(
    const VethPair& net, const CaseSpec& spec, const RunnerOptions& options,
    const std::function<pb::loadgen::Result(const std::string& host, uint16_t port)>& load,
    Measured& m, Accounted& a);

// The Outcome of a case run_across() measured: `counters`, the warnings
// (client errors, the server's exit status), the case document with the
// experiment's object.
Outcome across_outcome(const CaseSpec& spec, const RunnerOptions& options, Counters counters,
                       const Measured& m, const Accounted& a, pb::loadgen::Json experiment);

// The case that could not run for want of namespaces: ok, no counters, a
// warning, and "experiment": {"skipped": reason}, so the report says why its
// claim is not measurable instead of finding no case at all.
Outcome skipped_outcome(const CaseSpec& spec, const RunnerOptions& options,
                        const std::string& reason);

}  // namespace pb::bench
