#include "client.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "socket.hpp"

namespace pbtest {

namespace {

void put32(std::string& s, uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8)
        s.push_back(static_cast<char>((v >> shift) & 0xff));
}

uint32_t get32(const std::string& s, size_t at) {
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(s[at + i]);
    return v;
}

int ms_left(std::chrono::steady_clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    return static_cast<int>(std::max<int64_t>(0, left.count()));
}

// One recv with a deadline: >0 bytes, 0 on EOF, -1 on error or timeout.
ssize_t recv_some(int fd, char* buf, size_t n, std::chrono::steady_clock::time_point deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, ms_left(deadline)) <= 0) return -1;
    ssize_t r = ::recv(fd, buf, n, 0);
    return r < 0 ? -1 : r;
}

}  // namespace

pb::UniqueFd connect_local(uint16_t port) {
    return pb::connect_tcp("127.0.0.1", port, false);
}

void send_all(int fd, const std::string& bytes, size_t chunk) {
    size_t step = chunk == 0 ? bytes.size() : chunk;
    for (size_t off = 0; off < bytes.size();) {
        size_t n = std::min(step, bytes.size() - off);
        ssize_t w = ::send(fd, bytes.data() + off, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error(std::string("send: ") + std::strerror(errno));
        }
        off += static_cast<size_t>(w);
    }
}

std::string recv_exact(int fd, size_t n, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string out;
    out.reserve(n);
    char buf[65536];
    while (out.size() < n) {
        ssize_t r = recv_some(fd, buf, std::min(sizeof buf, n - out.size()), deadline);
        if (r <= 0) break;
        out.append(buf, static_cast<size_t>(r));
    }
    return out;
}

std::string recv_until_close(int fd, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t r = recv_some(fd, buf, sizeof buf, deadline);
        if (r <= 0) break;
        out.append(buf, static_cast<size_t>(r));
    }
    return out;
}

bool wait_closed(int fd, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[65536];
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, ms_left(deadline)) <= 0) return false;
        ssize_t r = ::recv(fd, buf, sizeof buf, 0);
        if (r == 0) return true;
        if (r < 0 && errno != EINTR && errno != EAGAIN) return true;  // RST
    }
}

std::string frame_request(const FrameSpec& spec) {
    std::string s;
    s.reserve(32 + spec.body_len);
    put32(s, spec.magic);
    put32(s, spec.body_len);
    put32(s, spec.reply_len);
    put32(s, spec.spin_us);
    put32(s, spec.sleep_us);
    put32(s, spec.flags);
    put32(s, static_cast<uint32_t>(spec.id >> 32));
    put32(s, static_cast<uint32_t>(spec.id));
    for (uint32_t i = 0; i < spec.body_len; ++i)
        s.push_back(static_cast<char>((spec.id + i) % 251));
    return s;
}

std::optional<std::string> read_verified_reply(int fd, uint64_t id, uint32_t reply_len,
                                               std::chrono::milliseconds timeout) {
    std::string header = recv_exact(fd, 16, timeout);
    if (header.size() != 16)
        return "short reply header (" + std::to_string(header.size()) + " bytes)";
    if (get32(header, 0) != 0x50424E32) return "bad reply magic";
    if (get32(header, 4) != reply_len)
        return "reply_len " + std::to_string(get32(header, 4)) + " != " + std::to_string(reply_len);
    uint64_t got_id = (uint64_t{get32(header, 8)} << 32) | get32(header, 12);
    if (got_id != id) return "id " + std::to_string(got_id) + " != " + std::to_string(id);
    std::string body = recv_exact(fd, reply_len, timeout);
    if (body.size() != reply_len) return "short reply body";
    for (size_t i = 0; i < body.size(); ++i) {
        if (static_cast<uint8_t>(body[i]) != (id + i) % 251)
            return "payload byte " + std::to_string(i) + " wrong";
    }
    return std::nullopt;
}

std::string capture_output(const std::string& command) {
    std::string out;
    FILE* p = ::popen(command.c_str(), "r");
    if (!p) return out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    ::pclose(p);
    return out;
}

HttpResponse read_http_response(int fd, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    HttpResponse resp;
    std::string head;
    char c;
    // Byte at a time up to the blank line: slow but exact, and tests are small.
    while (head.size() < 65536 &&
           (head.size() < 4 || head.compare(head.size() - 4, 4, "\r\n\r\n") != 0)) {
        if (recv_some(fd, &c, 1, deadline) != 1) return resp;
        head.push_back(c);
    }
    size_t line_end = head.find("\r\n");
    std::string status_line = head.substr(0, line_end);
    if (status_line.size() < 12 || status_line.rfind("HTTP/1.", 0) != 0) return resp;
    resp.status = std::stoi(status_line.substr(9, 3));
    size_t pos = line_end + 2;
    while (pos < head.size() - 2) {
        size_t end = head.find("\r\n", pos);
        std::string line = head.substr(pos, end - pos);
        pos = end + 2;
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        resp.headers[name] = value;
    }
    size_t length =
        resp.headers.count("content-length") ? std::stoul(resp.headers["content-length"]) : 0;
    resp.body = recv_exact(fd, length, std::chrono::milliseconds(ms_left(deadline)));
    resp.complete = resp.body.size() == length;
    return resp;
}

}  // namespace pbtest
