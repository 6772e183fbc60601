#include "http_response.hpp"

#include <charconv>
#include <cstring>

#include "frame.hpp"

namespace pb::http {

const char* reason_phrase(int status) {
    switch (status) {
        case 100:
            return "Continue";
        case 200:
            return "OK";
        case 204:
            return "No Content";
        case 400:
            return "Bad Request";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 408:
            return "Request Timeout";
        case 413:
            return "Content Too Large";
        case 414:
            return "URI Too Long";
        case 429:
            return "Too Many Requests";
        case 431:
            return "Request Header Fields Too Large";
        case 500:
            return "Internal Server Error";
        case 501:
            return "Not Implemented";
        case 503:
            return "Service Unavailable";
        case 505:
            return "HTTP Version Not Supported";
        default:
            return "Unknown";
    }
}

namespace {

// Longest possible head: status line with an 11-digit status and a 31-byte reason,
// Content-Type, a 20-digit Content-Length, and a Connection header.
constexpr size_t kMaxHeadBytes = 192;

char* put(char* p, std::string_view s) {
    std::memcpy(p, s.data(), s.size());
    return p + s.size();
}

// Writes the status line and headers at `p`; returns the end.
char* put_head(char* p, int status, uint64_t content_length, bool keep_alive, int version_minor) {
    // Always "HTTP/1.1": RFC 9110 2.5 has a server answer with the highest version
    // it supports within the request's major version, 1.0 clients included.
    p = put(p, "HTTP/1.1 ");
    p = std::to_chars(p, p + 11, status).ptr;
    *p++ = ' ';
    p = put(p, reason_phrase(status));
    p = put(p, "\r\nContent-Type: text/plain\r\nContent-Length: ");
    p = std::to_chars(p, p + 20, content_length).ptr;
    p = put(p, "\r\n");
    if (!keep_alive) {
        p = put(p, "Connection: close\r\n");
    } else if (version_minor == 0) {
        // A 1.0 client closes after the reply unless told the connection persists.
        p = put(p, "Connection: keep-alive\r\n");
    }
    return put(p, "\r\n");
}

}  // namespace

void write_response(Buffer& out, int status, std::string_view body, bool keep_alive,
                    int version_minor, bool head) {
    size_t body_bytes = head ? 0 : body.size();
    char* start = out.prepare(kMaxHeadBytes + body_bytes);
    char* p = put_head(start, status, body.size(), keep_alive, version_minor);
    if (body_bytes) p = put(p, body);
    out.commit(static_cast<size_t>(p - start));
}

void write_sized_response(Buffer& out, uint32_t size, bool keep_alive, int version_minor,
                          bool head) {
    size_t body_bytes = head ? 0 : size;
    char* start = out.prepare(kMaxHeadBytes + body_bytes);
    char* p = put_head(start, 200, size, keep_alive, version_minor);
    if (body_bytes) {
        frame::fill_payload(0, 0, reinterpret_cast<uint8_t*>(p), body_bytes);
        p += body_bytes;
    }
    out.commit(static_cast<size_t>(p - start));
}

}  // namespace pb::http
