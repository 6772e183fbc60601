// A blocking test client, independent of the servers' code paths: it builds
// requests from the wire format itself and checks replies byte by byte.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "unique_fd.hpp"

namespace pbtest {

using namespace std::chrono_literals;

pb::UniqueFd connect_local(uint16_t port);

// send() everything, in one go or in pieces of `chunk` bytes (0: one write).
void send_all(int fd, const std::string& bytes, size_t chunk = 0);
// Reads exactly n bytes, or fewer if the peer closes or `timeout` passes.
std::string recv_exact(int fd, size_t n, std::chrono::milliseconds timeout = 5s);
// Reads until EOF/RST or timeout; returns what arrived.
std::string recv_until_close(int fd, std::chrono::milliseconds timeout = 5s);
// True if the peer closes (EOF or RST) within `timeout`, discarding any data.
bool wait_closed(int fd, std::chrono::milliseconds timeout = 5s);

struct FrameSpec {
    uint64_t id = 1;
    uint32_t body_len = 0;
    uint32_t reply_len = 0;
    uint32_t spin_us = 0;
    uint32_t sleep_us = 0;
    uint32_t flags = 0;
    uint32_t magic = 0x50424E31;
};
// A whole request: header and body, body bytes following the payload rule.
std::string frame_request(const FrameSpec& spec);

// Reads one reply and checks magic, id, length and every payload byte.
// Returns an explanation of the first problem, or nullopt when it is right.
std::optional<std::string> read_verified_reply(int fd, uint64_t id, uint32_t reply_len,
                                               std::chrono::milliseconds timeout = 10s);

struct HttpResponse {
    int status = 0;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
    bool complete = false;
};
// Runs a shell command (curl, wrk, the loadgen CLI) and returns its stdout.
std::string capture_output(const std::string& command);

// Reads one response with a Content-Length body.
HttpResponse read_http_response(int fd, std::chrono::milliseconds timeout = 5s);

}  // namespace pbtest
