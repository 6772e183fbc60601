// Incremental HTTP/1.1 request parser, and (in http_response.hpp, included
// here) the response writer: just enough HTTP for wrk, wrk2, h2load, ab and
// curl to drive every server.
//
// The parser is a byte-at-a-time state machine: feed() consumes what it is given,
// keeps only the pieces it needs (method, target, version, and the values of the
// Connection, Content-Length and Transfer-Encoding headers), and resumes exactly
// where it stopped. It never re-scans earlier bytes, so feeding a request whole or
// split at any byte boundary gives the same result, the same `consumed` totals and,
// on error, the same status, reported at the same byte.
//
// What it accepts (and why, where it is a choice):
//   - Line endings: CRLF, and a bare LF (RFC 9112 2.2 allows it; nginx does the same,
//     and it keeps `printf ... | nc` usable). A bare CR anywhere is a 400.
//   - Empty lines before a request line are skipped (RFC 9112 2.2: clients have sent
//     a stray CRLF after a POST body); they count against max_request_line and a run
//     longer than that is a 400. They do not make in_progress() true.
//   - Request line: exactly `method SP target SP HTTP/1.x`. The method is checked at
//     its SP (unknown or lower-case → 501 at once); the target is any run of visible
//     bytes (0x21-0x7E and 0x80-0xFF); the version must be "HTTP/" DIGIT "." DIGIT
//     (else 400) and 1.0 or 1.1 (else 505). max_request_line counts method, both
//     spaces, target and version; the byte that goes past it is a 414.
//   - Headers: `name ":" OWS value OWS`. No whitespace before the colon, no obs-fold
//     (both 400, as RFC 9112 5.1 and 5.2 allow). Value bytes: HTAB, 0x20-0x7E and
//     0x80-0xFF. max_header_bytes counts every header line with its line ending, not
//     the empty line that ends the block. Host is not required: load tools and tests
//     that omit it still work.
//   - Content-Length: digits with OWS; repeated headers or a comma list are accepted
//     only when every value is equal (RFC 9110 8.6), otherwise 400; a value over
//     max_body is a 413. Any Transfer-Encoding (chunked or not) is a 501.
//   - Control bytes (0x00-0x1F and 0x7F, except HTAB in values) are a 400.
//   - Query: ?size=N, ?spin_us=N, ?sleep_us=N as plain decimal digits, checked when
//     the request line ends; the last occurrence wins, other keys are ignored. Empty
//     or non-digit values are a 400, spin_us/sleep_us over 1,000,000 a 400, size
//     over max_body (or over 2^32-1) a 413.
//   - Errors are reported at the first byte that proves them, so a status depends on
//     the input bytes alone, never on how they were split.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http_response.hpp"

namespace pb::http {

struct Limits {
    size_t max_request_line = 8192;  // method SP target SP version, without CRLF → 414
    size_t max_header_bytes = 8192;  // all header lines together, with CRLFs → 431
    size_t max_headers = 100;        // header count → 431
    uint64_t max_body = 1u << 20;    // Content-Length → 413
};

enum class Method { kGet, kHead, kPost, kPut, kDelete, kOptions, kPatch };

struct Request {
    Method method = Method::kGet;
    std::string target;      // as sent, e.g. "/x?size=100&spin_us=5"
    int version_minor = 1;   // HTTP/1.<minor>; only 1.0 and 1.1 are accepted
    bool keep_alive = true;  // after Connection header and version defaults
    uint64_t content_length = 0;
    // Query parameters the servers act on; absent ones keep these defaults.
    bool has_size = false;
    uint32_t size = 0;      // ?size=N: reply body of N payload bytes
    uint32_t spin_us = 0;   // ?spin_us=N
    uint32_t sleep_us = 0;  // ?sleep_us=N
};

class RequestParser {
public:
    enum class Status { kNeedMore, kRequest, kError };

    explicit RequestParser(const Limits& limits = {}) : limits_(limits) {}

    // Consumes bytes from [data, data+len) and sets `consumed`. Stops right after
    // a complete request (headers plus any Content-Length body, which is read and
    // discarded) and returns kRequest; request() then holds it until the next
    // feed() starts another. kError is sticky: error_status() says which reply
    // (400, 413, 414, 431, 501, 505) to send before closing.
    Status feed(const char* data, size_t len, size_t& consumed);

    const Request& request() const { return request_; }
    int error_status() const { return error_status_; }
    const char* error_reason() const { return error_reason_; }
    // True from the first byte of a request until it completes.
    bool in_progress() const;

private:
    enum class State : uint8_t {
        kStart,    // before a request line; empty lines are skipped here
        kStartLf,  // CR of a leading empty line seen; LF must follow
        kMethod,
        kTarget,
        kVersion,
        kRequestLineLf,  // CR after the version seen
        kHeaderStart,    // first byte of a header line or of the empty line
        kHeaderName,
        kHeaderValue,
        kHeaderLf,      // CR after a header value seen
        kHeadersEndLf,  // CR of the empty line seen
        kBody,          // discarding body_left_ more bytes
        kComplete,      // request_ is valid until the next non-empty feed()
        kFailed,        // sticky
    };
    // Only these headers change what the parser does; every other one is validated
    // and counted, then forgotten.
    enum class HeaderKind : uint8_t { kOther, kContentLength, kTransferEncoding, kConnection };
    // Position inside one Content-Length list element.
    enum class NumberPhase : uint8_t { kBefore, kDigits, kAfter };

    static constexpr size_t kMethodCap = 8;   // longest accepted method is 7 bytes
    static constexpr size_t kVersionLen = 8;  // "HTTP/1.1"
    static constexpr size_t kNameCap = 17;    // "transfer-encoding"
    static constexpr size_t kTokenCap = 10;   // "keep-alive"

    Status fail(int status, const char* reason);
    void start_request();
    // Each returns 0, or the error status after recording it with fail().
    int end_method();
    int end_request_line();
    int apply_query();
    void begin_value();
    int value_byte(unsigned char c);
    int end_header_line();
    int end_length_element();
    void end_connection_token();
    void end_headers();

    Limits limits_;
    Request request_;
    State state_ = State::kStart;
    HeaderKind kind_ = HeaderKind::kOther;
    NumberPhase phase_ = NumberPhase::kBefore;
    size_t line_bytes_ = 0;    // bytes of the request line (or of leading empty lines)
    size_t header_bytes_ = 0;  // bytes of all header lines so far
    size_t header_count_ = 0;
    size_t method_len_ = 0;  // kMethodCap + 1 once it cannot be a known method
    size_t version_len_ = 0;
    size_t name_len_ = 0;   // kNameCap + 1 once it cannot be an interesting name
    size_t token_len_ = 0;  // kTokenCap + 1 once it cannot be close/keep-alive
    char method_[kMethodCap] = {};
    char version_[kVersionLen] = {};
    char name_[kNameCap] = {};    // lower-cased
    char token_[kTokenCap] = {};  // lower-cased Connection token
    uint64_t number_ = 0;         // Content-Length element being read
    bool number_overflow_ = false;
    uint64_t body_left_ = 0;
    bool saw_content_length_ = false;
    bool connection_close_ = false;
    bool connection_keep_alive_ = false;
    int error_status_ = 0;
    const char* error_reason_ = "";
};

}  // namespace pb::http
