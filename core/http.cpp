#include "http.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

#include "frame.hpp"

namespace pb::http {
namespace {

// One lookup per byte instead of a chain of comparisons on the hot path.
enum : uint8_t {
    kTchar = 1,   // RFC 9110 token character
    kTarget = 2,  // request-target byte: visible ASCII or obs-text
    kValue = 4,   // field-value byte: HTAB, SP, visible ASCII or obs-text
    kCtl = 8,     // control byte other than HTAB (HTAB is allowed in values only)
};

constexpr std::array<uint8_t, 256> make_classes() {
    std::array<uint8_t, 256> t{};
    for (int c = 0; c < 256; ++c) {
        uint8_t f = 0;
        bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        bool tsym = c != 0 && std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) !=
                                  std::string_view::npos;
        if (alnum || tsym) f |= kTchar;
        if ((c > 0x20 && c < 0x7F) || c >= 0x80) f |= kTarget | kValue;
        if (c == ' ' || c == '\t') f |= kValue;
        if ((c < 0x20 && c != '\t') || c == 0x7F) f |= kCtl;
        t[static_cast<size_t>(c)] = f;
    }
    return t;
}
constexpr std::array<uint8_t, 256> kClass = make_classes();

inline bool has(unsigned char c, uint8_t flag) {
    return (kClass[c] & flag) != 0;
}
inline char lower(unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
}
inline bool is_digit(unsigned char c) {
    return c >= '0' && c <= '9';
}

bool equals(const char* buf, size_t len, std::string_view s) {
    return len == s.size() && std::memcmp(buf, s.data(), len) == 0;
}

struct MethodName {
    std::string_view name;
    Method method;
};
constexpr MethodName kMethods[] = {
    {"GET", Method::kGet},     {"HEAD", Method::kHead},     {"POST", Method::kPost},
    {"PUT", Method::kPut},     {"DELETE", Method::kDelete}, {"OPTIONS", Method::kOptions},
    {"PATCH", Method::kPatch},
};

enum class Number { kOk, kInvalid };
// Plain decimal digits only; saturates instead of overflowing so that callers can
// still tell "too large" from "not a number".
Number parse_decimal(std::string_view s, uint64_t& out) {
    if (s.empty()) return Number::kInvalid;
    uint64_t v = 0;
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (!is_digit(c)) return Number::kInvalid;
        auto d = static_cast<uint64_t>(c - '0');
        v = v > (std::numeric_limits<uint64_t>::max() - 9) / 10
                ? std::numeric_limits<uint64_t>::max()
                : v * 10 + d;
    }
    out = v;
    return Number::kOk;
}

}  // namespace

RequestParser::Status RequestParser::fail(int status, const char* reason) {
    state_ = State::kFailed;
    error_status_ = status;
    error_reason_ = reason;
    return Status::kError;
}

bool RequestParser::in_progress() const {
    switch (state_) {
        case State::kStart:
        case State::kStartLf:
        case State::kComplete:
        case State::kFailed:
            return false;
        default:
            return true;
    }
}

void RequestParser::start_request() {
    // Field by field, so that target keeps its capacity across requests.
    request_.method = Method::kGet;
    request_.target.clear();
    request_.version_minor = 1;
    request_.keep_alive = true;
    request_.content_length = 0;
    request_.has_size = false;
    request_.size = 0;
    request_.spin_us = 0;
    request_.sleep_us = 0;
    line_bytes_ = 0;
    header_bytes_ = 0;
    header_count_ = 0;
    method_len_ = 0;
    version_len_ = 0;
    body_left_ = 0;
    saw_content_length_ = false;
    connection_close_ = false;
    connection_keep_alive_ = false;
}

int RequestParser::end_method() {
    if (method_len_ == 0) {
        fail(400, "empty method");
        return 400;
    }
    for (const auto& m : kMethods) {
        if (method_len_ <= kMethodCap && equals(method_, method_len_, m.name)) {
            request_.method = m.method;
            return 0;
        }
    }
    fail(501, "method not implemented");
    return 501;
}

int RequestParser::end_request_line() {
    const char* v = version_;
    if (version_len_ != kVersionLen || std::memcmp(v, "HTTP/", 5) != 0 ||
        !is_digit(static_cast<unsigned char>(v[5])) || v[6] != '.' ||
        !is_digit(static_cast<unsigned char>(v[7]))) {
        fail(400, "malformed HTTP version");
        return 400;
    }
    if (v[5] != '1' || (v[7] != '0' && v[7] != '1')) {
        fail(505, "HTTP version not supported");
        return 505;
    }
    request_.version_minor = v[7] - '0';
    return apply_query();
}

int RequestParser::apply_query() {
    std::string_view target = request_.target;
    size_t q = target.find('?');
    if (q == std::string_view::npos) return 0;
    std::string_view query = target.substr(q + 1);
    query = query.substr(0, query.find('#'));
    while (!query.empty()) {
        size_t amp = query.find('&');
        std::string_view param = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        size_t eq = param.find('=');
        std::string_view key = param.substr(0, eq);
        std::string_view value =
            eq == std::string_view::npos ? std::string_view{} : param.substr(eq + 1);
        bool is_size = key == "size";
        bool is_spin = key == "spin_us";
        bool is_sleep = key == "sleep_us";
        if (!is_size && !is_spin && !is_sleep) continue;
        uint64_t n = 0;
        if (parse_decimal(value, n) != Number::kOk) {
            fail(400, "query parameter is not a decimal number");
            return 400;
        }
        if (is_size) {
            if (n > limits_.max_body || n > std::numeric_limits<uint32_t>::max()) {
                fail(413, "size above the body limit");
                return 413;
            }
            request_.has_size = true;
            request_.size = static_cast<uint32_t>(n);
        } else {
            if (n > frame::kMaxWorkUs) {
                fail(400, "spin_us/sleep_us above 1,000,000");
                return 400;
            }
            (is_spin ? request_.spin_us : request_.sleep_us) = static_cast<uint32_t>(n);
        }
    }
    return 0;
}

void RequestParser::begin_value() {
    kind_ = HeaderKind::kOther;
    if (name_len_ <= kNameCap) {
        if (equals(name_, name_len_, "content-length")) {
            kind_ = HeaderKind::kContentLength;
        } else if (equals(name_, name_len_, "transfer-encoding")) {
            kind_ = HeaderKind::kTransferEncoding;
        } else if (equals(name_, name_len_, "connection")) {
            kind_ = HeaderKind::kConnection;
        }
    }
    phase_ = NumberPhase::kBefore;
    token_len_ = 0;
}

// One byte of a Content-Length or Connection value (already checked to be a value
// byte); other kinds never get here.
int RequestParser::value_byte(unsigned char c) {
    bool ows = c == ' ' || c == '\t';
    if (kind_ == HeaderKind::kConnection) {
        if (ows || c == ',') {
            end_connection_token();
        } else if (token_len_ < kTokenCap) {
            token_[token_len_++] = lower(c);
        } else {
            token_len_ = kTokenCap + 1;
        }
        return 0;
    }
    // kContentLength: 1*DIGIT elements separated by commas, OWS around each.
    if (is_digit(c)) {
        if (phase_ == NumberPhase::kAfter) {
            fail(400, "malformed Content-Length");
            return 400;
        }
        if (phase_ == NumberPhase::kBefore) {
            phase_ = NumberPhase::kDigits;
            number_ = 0;
            number_overflow_ = false;
        }
        if (number_ > (std::numeric_limits<uint64_t>::max() - 9) / 10) {
            number_overflow_ = true;
        } else {
            number_ = number_ * 10 + static_cast<uint64_t>(c - '0');
        }
        return 0;
    }
    if (ows) {
        if (phase_ == NumberPhase::kDigits) phase_ = NumberPhase::kAfter;
        return 0;
    }
    if (c == ',') {
        int status = end_length_element();
        phase_ = NumberPhase::kBefore;
        return status;
    }
    fail(400, "malformed Content-Length");
    return 400;
}

int RequestParser::end_length_element() {
    if (phase_ == NumberPhase::kBefore) {
        fail(400, "empty Content-Length");
        return 400;
    }
    if (number_overflow_ || number_ > limits_.max_body) {
        fail(413, "Content-Length above the body limit");
        return 413;
    }
    if (saw_content_length_ && number_ != request_.content_length) {
        fail(400, "conflicting Content-Length values");
        return 400;
    }
    saw_content_length_ = true;
    request_.content_length = number_;
    return 0;
}

void RequestParser::end_connection_token() {
    if (equals(token_, token_len_, "close")) connection_close_ = true;
    if (equals(token_, token_len_, "keep-alive")) connection_keep_alive_ = true;
    token_len_ = 0;
}

int RequestParser::end_header_line() {
    switch (kind_) {
        case HeaderKind::kContentLength:
            return end_length_element();
        case HeaderKind::kConnection:
            end_connection_token();
            return 0;
        case HeaderKind::kTransferEncoding:
            fail(501, "Transfer-Encoding not implemented");
            return 501;
        case HeaderKind::kOther:
            return 0;
    }
    return 0;
}

void RequestParser::end_headers() {
    request_.keep_alive =
        !connection_close_ && (request_.version_minor == 1 || connection_keep_alive_);
    body_left_ = request_.content_length;
    state_ = body_left_ > 0 ? State::kBody : State::kComplete;
}

RequestParser::Status RequestParser::feed(const char* data, size_t len, size_t& consumed) {
    consumed = 0;
    if (state_ == State::kFailed) return Status::kError;
    // An empty feed changes nothing, so request() survives it.
    if (len == 0) return Status::kNeedMore;
    if (state_ == State::kComplete) {
        state_ = State::kStart;
        line_bytes_ = 0;  // now counts empty lines before the next request line
    }

    const auto* begin = reinterpret_cast<const unsigned char*>(data);
    const auto* end = begin + len;
    const auto* p = begin;
    // Every error is reported with the offending byte counted as consumed.
    auto error_at = [&](const unsigned char* at) {
        consumed = static_cast<size_t>(at + 1 - begin);
        return Status::kError;
    };
    auto failed = [&](const unsigned char* at, int status, const char* reason) {
        fail(status, reason);
        return error_at(at);
    };

    while (p < end) {
        unsigned char c = *p;
        switch (state_) {
            case State::kStart:
                if (c == '\r' || c == '\n') {
                    if (++line_bytes_ > limits_.max_request_line) {
                        return failed(p, 400, "too many empty lines before the request");
                    }
                    state_ = c == '\r' ? State::kStartLf : State::kStart;
                    ++p;
                    break;
                }
                start_request();
                state_ = State::kMethod;
                break;  // the same byte is read again as the method's first

            case State::kStartLf:
                if (c != '\n') return failed(p, 400, "bare CR");
                if (++line_bytes_ > limits_.max_request_line) {
                    return failed(p, 400, "too many empty lines before the request");
                }
                state_ = State::kStart;
                ++p;
                break;

            // The states that read a token loop over it here rather than going back
            // through the switch per byte. Measured: about 30% less time per
            // wrk-style request (the indirect jump was the hottest instruction).
            case State::kMethod:
                for (;;) {
                    if (++line_bytes_ > limits_.max_request_line) {
                        return failed(p, 414, "request line too long");
                    }
                    if (c == ' ') {
                        if (end_method() != 0) return error_at(p);
                        state_ = State::kTarget;
                        ++p;
                        break;
                    }
                    if (!has(c, kTchar)) return failed(p, 400, "malformed method");
                    if (method_len_ < kMethodCap) {
                        method_[method_len_++] = static_cast<char>(c);
                    } else {
                        method_len_ = kMethodCap + 1;
                    }
                    if (++p == end) break;
                    c = *p;
                }
                break;

            case State::kTarget: {
                // Copy the run of target bytes in one go; the byte that ends it
                // takes the per-byte path below.
                const auto* run = p;
                size_t budget = limits_.max_request_line - line_bytes_;
                const auto* stop = static_cast<size_t>(end - p) > budget ? p + budget : end;
                while (run < stop && has(*run, kTarget)) ++run;
                if (run > p) {
                    request_.target.append(reinterpret_cast<const char*>(p),
                                           static_cast<size_t>(run - p));
                    line_bytes_ += static_cast<size_t>(run - p);
                    p = run;
                    break;
                }
                if (++line_bytes_ > limits_.max_request_line) {
                    return failed(p, 414, "request line too long");
                }
                if (c != ' ') {
                    return failed(
                        p, 400,
                        has(c, kCtl) ? "control byte in request target" : "malformed request line");
                }
                if (request_.target.empty()) return failed(p, 400, "empty request target");
                version_len_ = 0;
                state_ = State::kVersion;
                ++p;
                break;
            }

            case State::kVersion:
                for (;;) {
                    if (c == '\r' || c == '\n') {
                        if (end_request_line() != 0) return error_at(p);
                        state_ = c == '\r' ? State::kRequestLineLf : State::kHeaderStart;
                        ++p;
                        break;
                    }
                    if (++line_bytes_ > limits_.max_request_line) {
                        return failed(p, 414, "request line too long");
                    }
                    if (has(c, kCtl)) return failed(p, 400, "control byte in request line");
                    if (version_len_ == kVersionLen) {
                        return failed(p, 400, "malformed HTTP version");
                    }
                    version_[version_len_++] = static_cast<char>(c);
                    if (++p == end) break;
                    c = *p;
                }
                break;

            case State::kRequestLineLf:
                if (c != '\n') return failed(p, 400, "bare CR");
                state_ = State::kHeaderStart;
                ++p;
                break;

            case State::kHeaderStart:
                if (c == '\r') {
                    state_ = State::kHeadersEndLf;
                    ++p;
                    break;
                }
                if (c == '\n') {
                    ++p;
                    end_headers();
                    if (state_ == State::kComplete) {
                        consumed = static_cast<size_t>(p - begin);
                        return Status::kRequest;
                    }
                    break;
                }
                if (++header_bytes_ > limits_.max_header_bytes) {
                    return failed(p, 431, "header section too large");
                }
                if (c == ' ' || c == '\t') return failed(p, 400, "obsolete header line folding");
                if (!has(c, kTchar)) return failed(p, 400, "malformed header name");
                if (++header_count_ > limits_.max_headers) {
                    return failed(p, 431, "too many headers");
                }
                name_[0] = lower(c);
                name_len_ = 1;
                state_ = State::kHeaderName;
                ++p;
                break;

            case State::kHeaderName:
                for (;;) {
                    if (++header_bytes_ > limits_.max_header_bytes) {
                        return failed(p, 431, "header section too large");
                    }
                    if (c == ':') {
                        begin_value();
                        state_ = State::kHeaderValue;
                        ++p;
                        break;
                    }
                    if (!has(c, kTchar)) {
                        return failed(
                            p, 400,
                            has(c, kCtl) ? "control byte in header name" : "malformed header name");
                    }
                    if (name_len_ < kNameCap) {
                        name_[name_len_++] = lower(c);
                    } else {
                        name_len_ = kNameCap + 1;
                    }
                    if (++p == end) break;
                    c = *p;
                }
                break;

            case State::kHeaderValue: {
                if (kind_ == HeaderKind::kOther || kind_ == HeaderKind::kTransferEncoding) {
                    // Values nobody reads: count and validate the run in one pass.
                    const auto* run = p;
                    size_t budget = limits_.max_header_bytes - header_bytes_;
                    const auto* stop = static_cast<size_t>(end - p) > budget ? p + budget : end;
                    while (run < stop && has(*run, kValue)) ++run;
                    if (run > p) {
                        header_bytes_ += static_cast<size_t>(run - p);
                        p = run;
                        break;
                    }
                }
                if (++header_bytes_ > limits_.max_header_bytes) {
                    return failed(p, 431, "header section too large");
                }
                if (c == '\r') {
                    state_ = State::kHeaderLf;
                } else if (c == '\n') {
                    if (end_header_line() != 0) return error_at(p);
                    state_ = State::kHeaderStart;
                } else if (!has(c, kValue)) {
                    return failed(p, 400, "control byte in header value");
                } else if (value_byte(c) != 0) {
                    return error_at(p);
                }
                ++p;
                break;
            }

            case State::kHeaderLf:
                if (++header_bytes_ > limits_.max_header_bytes) {
                    return failed(p, 431, "header section too large");
                }
                if (c != '\n') return failed(p, 400, "bare CR");
                if (end_header_line() != 0) return error_at(p);
                state_ = State::kHeaderStart;
                ++p;
                break;

            case State::kHeadersEndLf:
                if (c != '\n') return failed(p, 400, "bare CR");
                ++p;
                end_headers();
                if (state_ == State::kComplete) {
                    consumed = static_cast<size_t>(p - begin);
                    return Status::kRequest;
                }
                break;

            case State::kBody: {
                auto take = static_cast<size_t>(
                    std::min<uint64_t>(body_left_, static_cast<uint64_t>(end - p)));
                p += take;
                body_left_ -= take;
                if (body_left_ == 0) {
                    state_ = State::kComplete;
                    consumed = static_cast<size_t>(p - begin);
                    return Status::kRequest;
                }
                break;
            }

            case State::kComplete:
            case State::kFailed:
                // Unreachable: both return before the loop or leave it at once.
                consumed = static_cast<size_t>(p - begin);
                return state_ == State::kFailed ? Status::kError : Status::kRequest;
        }
    }
    consumed = len;
    return Status::kNeedMore;
}

}  // namespace pb::http
