// The flags every server shares, defined once. A server file adds its own
// pattern-specific flags to the same CLI::App before parsing.
#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdint>
#include <string>

#include "http.hpp"

namespace pb {

enum class Protocol { kFrame, kHttp };
const char* to_string(Protocol p);

using Micros = std::chrono::microseconds;

struct ServerOptions {
    std::string host = "127.0.0.1";
    uint16_t port = 0;
    Protocol protocol = Protocol::kFrame;
    unsigned threads = 0;  // 0 until parsed: then the CPUs in our affinity mask
    bool nodelay = true;
    int backlog = 4096;
    int fastopen = 0;  // TCP_FASTOPEN queue length on the listener; 0: off
    uint32_t max_frame = 1u << 20;
    uint64_t max_connections = 100000;
    Micros idle_timeout = std::chrono::seconds(60);
    Micros header_timeout = std::chrono::seconds(10);
    Micros write_timeout = std::chrono::seconds(10);
    Micros shutdown_timeout = std::chrono::seconds(10);
    size_t output_high_water = 4u << 20;  // stop reading a connection above this
    http::Limits http;
    std::string stats_file;
    // --check-available: say whether this pattern can run on this machine and
    // exit, without listening (finish_server_options()).
    bool check_available = false;
    // Fault injection (tests): every K-th per-connection setsockopt in the
    // process fails as if it returned EINVAL; 0 = never.
    uint64_t fail_setsockopt_every = 0;
};

// Parses "500ms", "2s", "1m", "250us", "1h"; a bare number means seconds.
// Throws std::invalid_argument naming the text on anything else.
Micros parse_duration(const std::string& text);
std::string format_duration(Micros d);

// Adds the common flags to `app`, bound to `options`.
void add_server_options(CLI::App& app, ServerOptions& options);
// Fills in what depends on other flags (threads default, HTTP body limit).
void finish_server_options(ServerOptions& options);

// CPUs in this process's affinity mask (at least 1).
unsigned available_cpus();

}  // namespace pb
