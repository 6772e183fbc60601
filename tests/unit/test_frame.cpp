// The frame codec: header encode/decode, payload rule, and the incremental
// RequestDecoder fed whole, split at every byte boundary and byte at a time.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <ostream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "every_split.hpp"
#include "frame.hpp"

using namespace pb::frame;
using Bytes = std::vector<uint8_t>;

namespace {

Bytes encode(const RequestHeader& h) {
    Bytes out(kRequestHeaderSize);
    encode_request_header(h, out.data());
    return out;
}

// A complete request: header plus a body that follows the payload rule.
Bytes make_request(uint64_t id, uint32_t body_len, uint32_t reply_len = 0, uint32_t spin_us = 0,
                   uint32_t sleep_us = 0) {
    RequestHeader h;
    h.id = id;
    h.body_len = body_len;
    h.reply_len = reply_len;
    h.spin_us = spin_us;
    h.sleep_us = sleep_us;
    Bytes out = encode(h);
    out.resize(kRequestHeaderSize + body_len);
    fill_payload(id, 0, out.data() + kRequestHeaderSize, body_len);
    return out;
}

Bytes concat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

struct Event {
    bool error = false;
    RequestDecoder::Error kind = RequestDecoder::Error::kNone;
    HeaderError header_error = HeaderError::kNone;
    uint32_t body_len = 0;
    uint32_t reply_len = 0;
    uint32_t spin_us = 0;
    uint32_t sleep_us = 0;
    uint64_t id = 0;
    // Total consumed when a request completed. Not recorded for errors: the decoder
    // does not promise how much of a bad chunk it took, only that it stops.
    size_t offset = 0;
    bool operator==(const Event&) const = default;
};

struct Run {
    std::vector<Event> events;
    bool in_progress = false;
    bool operator==(const Run&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Run& r) {
    os << "[";
    for (const auto& e : r.events) {
        if (e.error) {
            os << "{error " << static_cast<int>(e.kind) << "/" << to_string(e.header_error) << "} ";
        } else {
            os << "{id " << e.id << " body " << e.body_len << " @" << e.offset << "} ";
        }
    }
    return os << "in_progress=" << r.in_progress << "]";
}

Run decode_chunks(const Bytes& input, const std::vector<size_t>& cuts,
                  uint32_t max_frame = kDefaultMaxFrame) {
    RequestDecoder decoder(max_frame);
    Run run;
    pbtest::feed_in_chunks(
        input.size(), cuts,
        [&](size_t off, size_t len, size_t& consumed) {
            return decoder.feed(input.data() + off, len, consumed);
        },
        [&](RequestDecoder::Status status, size_t total) {
            if (status == RequestDecoder::Status::kRequest) {
                const auto& h = decoder.header();
                run.events.push_back({false, RequestDecoder::Error::kNone, HeaderError::kNone,
                                      h.body_len, h.reply_len, h.spin_us, h.sleep_us, h.id, total});
                return;
            }
            Event e;
            e.error = true;
            e.kind = decoder.error();
            e.header_error = decoder.header_error();
            run.events.push_back(e);
        });
    run.in_progress = decoder.in_progress();
    return run;
}

// Decodes `input` every way (every_split.hpp), pairs of splits up to 100 bytes.
Run decode_every_way(const Bytes& input, uint32_t max_frame = kDefaultMaxFrame) {
    return pbtest::same_at_every_split(input.size(), 100, [&](const std::vector<size_t>& cuts) {
        return decode_chunks(input, cuts, max_frame);
    });
}

}  // namespace

TEST_CASE("frame: request header round trip", "[frame]") {
    const RequestHeader cases[] = {
        {},
        {1, 2, 3, 4, 0, 5},
        {kDefaultMaxFrame, kDefaultMaxFrame, kMaxWorkUs, kMaxWorkUs, 0, UINT64_MAX},
        {0x01020304, 0x05060708, 0, 0, 0, 0x1122334455667788ull},
    };
    for (const auto& h : cases) {
        Bytes raw = encode(h);
        RequestHeader back;
        REQUIRE(decode_request_header(raw.data(), UINT32_MAX, back) == HeaderError::kNone);
        CHECK(back.body_len == h.body_len);
        CHECK(back.reply_len == h.reply_len);
        CHECK(back.spin_us == h.spin_us);
        CHECK(back.sleep_us == h.sleep_us);
        CHECK(back.flags == h.flags);
        CHECK(back.id == h.id);
        CHECK(encode(back) == raw);
    }
}

TEST_CASE("frame: header layout is network byte order", "[frame]") {
    RequestHeader h{0x00000010, 0x00000020, 0x00000030, 0x00000040, 0, 0x0102030405060708ull};
    const Bytes expected = {
        'P', 'B', 'N', '1',  0, 0, 0, 0x10, 0, 0, 0, 0x20, 0, 0, 0, 0x30,
        0,   0,   0,   0x40, 0, 0, 0, 0,    1, 2, 3, 4,    5, 6, 7, 8,
    };
    CHECK(encode(h) == expected);

    ReplyHeader r{0x00000100, 0x0A0B0C0D0E0F1011ull};
    uint8_t raw[kReplyHeaderSize];
    encode_reply_header(r, raw);
    const Bytes reply_expected = {'P',  'B',  'N',  '2',  0,    0,    1,    0,
                                  0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x10, 0x11};
    CHECK(Bytes(raw, raw + kReplyHeaderSize) == reply_expected);
}

TEST_CASE("frame: each header error", "[frame]") {
    const uint32_t max_frame = 1000;
    auto decode = [&](const RequestHeader& h) {
        RequestHeader out;
        return decode_request_header(encode(h).data(), max_frame, out);
    };
    RequestHeader ok{max_frame, max_frame, kMaxWorkUs, kMaxWorkUs, 0, 9};
    CHECK(decode(ok) == HeaderError::kNone);  // every limit is inclusive

    // `ok` with one field past its limit: {body, reply, spin, sleep, flags, id}.
    const std::pair<RequestHeader, HeaderError> one_off[] = {
        {{max_frame + 1, max_frame, kMaxWorkUs, kMaxWorkUs, 0, 9}, HeaderError::kBodyTooLarge},
        {{max_frame, max_frame + 1, kMaxWorkUs, kMaxWorkUs, 0, 9}, HeaderError::kReplyTooLarge},
        {{max_frame, max_frame, kMaxWorkUs + 1, kMaxWorkUs, 0, 9}, HeaderError::kWorkTooLarge},
        {{max_frame, max_frame, kMaxWorkUs, kMaxWorkUs + 1, 0, 9}, HeaderError::kWorkTooLarge},
        {{max_frame, max_frame, kMaxWorkUs, kMaxWorkUs, 1, 9}, HeaderError::kBadFlags},
        {{max_frame, max_frame, kMaxWorkUs, kMaxWorkUs, 0x80000000u, 9}, HeaderError::kBadFlags},
    };
    for (size_t i = 0; i < std::size(one_off); ++i) {
        INFO("case " << i);
        CHECK(decode(one_off[i].first) == one_off[i].second);
    }

    Bytes raw = encode(ok);
    for (size_t i = 0; i < 4; ++i) {
        Bytes bad = raw;
        bad[i] ^= 0x20;
        RequestHeader out;
        CHECK(decode_request_header(bad.data(), max_frame, out) == HeaderError::kBadMagic);
    }
    // A reply magic is not a request magic.
    Bytes swapped = raw;
    swapped[3] = '2';
    RequestHeader out;
    CHECK(decode_request_header(swapped.data(), max_frame, out) == HeaderError::kBadMagic);

    std::set<std::string> names;
    for (auto e :
         {HeaderError::kNone, HeaderError::kBadMagic, HeaderError::kBodyTooLarge,
          HeaderError::kReplyTooLarge, HeaderError::kWorkTooLarge, HeaderError::kBadFlags}) {
        names.insert(to_string(e));
    }
    CHECK(names.size() == 6);
}

TEST_CASE("frame: reply header round trip and bad magic", "[frame]") {
    for (ReplyHeader h :
         {ReplyHeader{}, ReplyHeader{13, 42}, ReplyHeader{UINT32_MAX, UINT64_MAX}}) {
        uint8_t raw[kReplyHeaderSize];
        encode_reply_header(h, raw);
        ReplyHeader back;
        REQUIRE(decode_reply_header(raw, back));
        CHECK(back.reply_len == h.reply_len);
        CHECK(back.id == h.id);
        raw[0] = 'X';
        CHECK_FALSE(decode_reply_header(raw, back));
    }
    // A request magic is not a reply magic.
    Bytes req = encode(RequestHeader{});
    ReplyHeader back;
    CHECK_FALSE(decode_reply_header(req.data(), back));
}

TEST_CASE("frame: payload fill and verify", "[frame]") {
    // Ids whose id + offset does not wrap past 2^64; the wrap is its own case below.
    for (uint64_t id :
         {uint64_t{0}, uint64_t{1}, uint64_t{250}, uint64_t{251}, UINT64_MAX - 5000}) {
        INFO("id " << id);
        Bytes buf(1000);
        fill_payload(id, 0, buf.data(), buf.size());
        bool rule = true;
        for (size_t i = 0; i < buf.size(); ++i) rule = rule && buf[i] == payload_byte(id, i);
        CHECK(rule);
        CHECK(verify_payload(id, 0, buf.data(), buf.size()) == buf.size());
        // Any offset continues the same sequence.
        for (size_t offset : {size_t{1}, size_t{250}, size_t{251}, size_t{777}}) {
            Bytes part(buf.size() - offset);
            fill_payload(id, offset, part.data(), part.size());
            CHECK(std::equal(part.begin(), part.end(),
                             buf.begin() + static_cast<std::ptrdiff_t>(offset)));
            CHECK(verify_payload(id, offset, buf.data() + offset, part.size()) == part.size());
        }
        // The first broken byte is found, wherever it is.
        for (size_t bad : {size_t{0}, size_t{1}, size_t{250}, size_t{251}, size_t{999}}) {
            Bytes copy = buf;
            copy[bad] = static_cast<uint8_t>(copy[bad] + 1);
            CHECK(verify_payload(id, 0, copy.data(), copy.size()) == bad);
        }
        // Another id's payload does not pass.
        CHECK(verify_payload(id + 1, 0, buf.data(), buf.size()) == 0);
        CHECK(verify_payload(id, 0, buf.data(), 0) == 0);
    }
    // Values stay below 251: 251..255 never appear.
    Bytes big(251 * 3);
    fill_payload(7, 0, big.data(), big.size());
    CHECK(*std::max_element(big.begin(), big.end()) == 250);
}

// ids near 2^64: the rule is modular arithmetic on the true id + i, so a fill
// or a verification that starts at any offset agrees with payload_byte(), and
// the decoder's verdict does not depend on where the stream was split.
TEST_CASE("frame: payload rule for ids near 2^64", "[frame]") {
    const uint64_t id = UINT64_MAX;
    Bytes whole(300);
    fill_payload(id, 0, whole.data(), whole.size());
    bool rule = true;
    for (size_t i = 0; i < whole.size(); ++i) rule = rule && whole[i] == payload_byte(id, i);
    CHECK(rule);
    Bytes tail(whole.size() - 1);
    fill_payload(id, 1, tail.data(), tail.size());
    CHECK(std::equal(tail.begin(), tail.end(), whole.begin() + 1));
    // Split inside the body so that verification resumes at a non-zero offset.
    Bytes req = make_request(id, 20);
    Run whole_run = decode_chunks(req, {});
    Run split_run = decode_chunks(req, {kRequestHeaderSize + 1});
    REQUIRE(whole_run.events.size() == 1);
    CHECK_FALSE(whole_run.events[0].error);
    CHECK(split_run == whole_run);
}

TEST_CASE("frame: decoder on one request, every split", "[frame]") {
    for (uint32_t body : {0u, 1u, 5u, 251u, 300u}) {
        INFO("body " << body);
        Bytes req = make_request(77, body, 13, 5, 6);
        Run run = decode_every_way(req);
        REQUIRE(run.events.size() == 1);
        const Event& e = run.events[0];
        CHECK_FALSE(e.error);
        CHECK(e.id == 77);
        CHECK(e.body_len == body);
        CHECK(e.reply_len == 13);
        CHECK(e.spin_us == 5);
        CHECK(e.sleep_us == 6);
        CHECK(e.offset == req.size());
        CHECK_FALSE(run.in_progress);
    }
}

TEST_CASE("frame: pipelined frames in one buffer", "[frame]") {
    Bytes a = make_request(1, 0, 10);
    Bytes b = make_request(2, 40, 20);
    Bytes c = make_request(UINT64_MAX - 1000, 260, 30);
    Bytes partial = make_request(4, 10);
    partial.resize(kRequestHeaderSize + 3);
    Bytes stream = concat({a, b, c, partial});
    Run run = decode_every_way(stream);
    REQUIRE(run.events.size() == 3);
    CHECK(run.events[0].id == 1);
    CHECK(run.events[0].offset == a.size());
    CHECK(run.events[1].id == 2);
    CHECK(run.events[1].offset == a.size() + b.size());
    CHECK(run.events[2].id == UINT64_MAX - 1000);
    CHECK(run.events[2].reply_len == 30);
    CHECK(run.events[2].offset == a.size() + b.size() + c.size());
    CHECK(run.in_progress);  // the partial frame is mid-body

    // A partial header is in progress too; nothing is not.
    Bytes half = make_request(5, 0);
    half.resize(10);
    CHECK(decode_every_way(half).in_progress);
    CHECK_FALSE(decode_every_way({}).in_progress);
}

TEST_CASE("frame: decoder reports header errors, every split", "[frame]") {
    const uint32_t max_frame = 64;
    struct Case {
        RequestHeader header;
        HeaderError error;
    };
    const Case cases[] = {
        {{65, 0, 0, 0, 0, 1}, HeaderError::kBodyTooLarge},
        {{0, 65, 0, 0, 0, 1}, HeaderError::kReplyTooLarge},
        {{0, 0, kMaxWorkUs + 1, 0, 0, 1}, HeaderError::kWorkTooLarge},
        {{0, 0, 0, kMaxWorkUs + 1, 0, 1}, HeaderError::kWorkTooLarge},
        {{0, 0, 0, 0, 2, 1}, HeaderError::kBadFlags},
    };
    Bytes good = make_request(9, 8);
    for (const auto& c : cases) {
        INFO(to_string(c.error));
        Run run = decode_every_way(concat({good, encode(c.header), good}), max_frame);
        REQUIRE(run.events.size() == 2);
        CHECK_FALSE(run.events[0].error);
        CHECK(run.events[1].error);
        CHECK(run.events[1].kind == RequestDecoder::Error::kHeader);
        CHECK(run.events[1].header_error == c.error);
    }
    Bytes bad_magic = encode(RequestHeader{});
    bad_magic[0] = 'X';
    Run run = decode_every_way(concat({bad_magic, good}), max_frame);
    REQUIRE(run.events.size() == 1);
    CHECK(run.events[0].header_error == HeaderError::kBadMagic);
}

TEST_CASE("frame: a bad body byte is detected wherever it is", "[frame]") {
    const uint32_t body = 40;
    Bytes good = make_request(3, body);
    for (size_t bad = 0; bad < body; ++bad) {
        INFO("bad body byte " << bad);
        Bytes req = make_request(11, body);
        req[kRequestHeaderSize + bad] ^= 0x01;
        Run run = decode_every_way(concat({good, req, good}));
        REQUIRE(run.events.size() == 2);
        CHECK(run.events[0].id == 3);
        CHECK(run.events[1].error);
        CHECK(run.events[1].kind == RequestDecoder::Error::kBadBody);
        CHECK(run.events[1].header_error == HeaderError::kNone);
    }
}

TEST_CASE("frame: decoder errors are sticky", "[frame]") {
    RequestDecoder decoder;
    Bytes bad = encode(RequestHeader{});
    bad[0] = 0;
    size_t consumed = 0;
    REQUIRE(decoder.feed(bad.data(), bad.size(), consumed) == RequestDecoder::Status::kError);
    CHECK(decoder.error() == RequestDecoder::Error::kHeader);
    Bytes good = make_request(1, 0);
    CHECK(decoder.feed(good.data(), good.size(), consumed) == RequestDecoder::Status::kError);
    CHECK(consumed == 0);
}
