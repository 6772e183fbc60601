// HTTP/1.1 responses, written straight into an output Buffer: a status line,
// Content-Type, Content-Length and, where needed, Connection. Every server's
// HTTP replies, and its error replies, come from here.
#pragma once

#include <cstdint>
#include <string_view>

#include "buffer.hpp"

namespace pb::http {

// Reason phrase for a status code ("OK", "Bad Request", ...).
const char* reason_phrase(int status);

// Appends a complete response. The body is `body` when given; for a 200 with
// has_size, `size` payload bytes (byte i = i % 251, the frame rule with id 0).
void write_response(Buffer& out, int status, std::string_view body, bool keep_alive,
                    int version_minor = 1, bool head = false);
void write_sized_response(Buffer& out, uint32_t size, bool keep_alive, int version_minor = 1,
                          bool head = false);

inline constexpr std::string_view kDefaultBody = "Hello, World!";

}  // namespace pb::http
