// The protocol-neutral request layer every server uses, so that server files
// hold threading only: a RequestReader turns received bytes into Requests (frame
// or HTTP), execute() does the work a request asks for, and write_reply()
// appends its reply.
#pragma once

#include <cstdint>

#include "buffer.hpp"
#include "frame.hpp"
#include "http.hpp"
#include "options.hpp"
#include "stats.hpp"

namespace pb {

struct Request {
    uint64_t id = 0;  // frame: the client's id; HTTP: unused
    uint32_t spin_us = 0;
    uint32_t sleep_us = 0;
    // Frame: reply_len payload bytes. HTTP: a sized body when has_size, else
    // the 13-byte "Hello, World!".
    uint32_t reply_len = 0;
    bool has_size = false;
    bool http = false;
    bool keep_alive = true;  // false: close after this reply
    bool head = false;       // HTTP HEAD: headers only
    int version_minor = 1;
};

class RequestReader {
public:
    enum class Status { kNeedMore, kRequest, kError };

    RequestReader(Protocol protocol, const ServerOptions& options);

    // Consumes from [data, data+len), sets `consumed`; on kRequest fills `out`.
    Status next(const char* data, size_t len, size_t& consumed, Request& out);

    // After kError: which counter to bump, and (HTTP only) the status reply
    // to send before closing. Frame errors close without a reply.
    ErrorKind error_kind() const { return error_kind_; }
    void write_error_reply(Buffer& out) const;
    const char* error_text() const;

    // True from a request's first byte until it is complete: the header
    // deadline runs while this holds.
    bool in_progress() const;

private:
    Protocol protocol_;
    frame::RequestDecoder frame_;
    http::RequestParser http_;
    ErrorKind error_kind_ = ErrorKind::kProtocol;
};

// One step of a connection's parse loop, as both connection engines (Reactor,
// UringReactor) take it: the next request in [data + consumed, data + len).
//   kRequest  `out` is filled and `consumed` is past it;
//   kNeedMore every byte is consumed (a partial request waits in `reader`);
//   kError    the error reply, if the protocol has one, is appended to `reply`
//             and the error counted in `stats`: send it, then close.
RequestReader::Status next_request(RequestReader& reader, const char* data, size_t len,
                                   size_t& consumed, Request& out, Buffer& reply,
                                   ThreadStats& stats);

// Runs the work `r` asks for on the calling thread.
void execute(const Request& r);
// Appends the reply to `r`. Returns the number of bytes appended.
size_t write_reply(const Request& r, Buffer& out);

}  // namespace pb
