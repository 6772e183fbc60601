// For the incremental decoders (the frame RequestDecoder, the HTTP
// RequestParser): feed the same bytes whole, split at every byte boundary,
// split at every pair of boundaries when short, and a byte at a time, and
// require every way to give the same result.
#pragma once

#include <catch2/catch.hpp>

#include <cstddef>
#include <vector>

namespace pbtest {

// Feeds bytes [0, size) to a decoder in chunks that end at each of `cuts`
// (ascending) and then at `size`, checking the contract both decoders share:
// feed() never takes more than it is given, kNeedMore takes all of it, and a
// request takes at least a byte. `feed(offset, len, consumed)` calls the
// decoder's feed() on the bytes at `offset` and returns its Status;
// `on_event(status, total)` records each kRequest or kError with the bytes
// consumed so far. Feeding stops at the first kError. Returns the bytes
// consumed in all.
template <class Feed, class OnEvent>
size_t feed_in_chunks(size_t size, const std::vector<size_t>& cuts, Feed&& feed,
                      OnEvent&& on_event) {
    size_t total = 0;
    auto feed_chunk = [&](size_t off, size_t stop) {
        while (off < stop) {
            size_t consumed = 99;
            auto status = feed(off, stop - off, consumed);
            using Status = decltype(status);
            REQUIRE(consumed <= stop - off);
            off += consumed;
            total += consumed;
            if (status == Status::kNeedMore) {
                // kNeedMore must have taken every byte it was given.
                REQUIRE(off == stop);
                continue;
            }
            if (status == Status::kRequest) REQUIRE(consumed > 0);
            on_event(status, total);
            if (status == Status::kError) return false;
        }
        return true;
    };
    size_t start = 0;
    for (size_t cut : cuts) {
        if (!feed_chunk(start, cut)) return total;
        start = cut;
    }
    feed_chunk(start, size);
    return total;
}

// `run(cuts)` decodes the input fed in chunks ending at `cuts` and returns a
// comparable (and printable) record of what the decoder reported. Runs it
// whole, split once at every boundary, split twice at every pair of boundaries
// when the input is at most `pairs_up_to` bytes, and a byte at a time; CHECKs
// that each run equals the whole one and returns the whole one.
template <class RunWithCuts>
auto same_at_every_split(size_t size, size_t pairs_up_to, RunWithCuts&& run) {
    auto whole = run(std::vector<size_t>{});
    bool all_same = true;
    for (size_t i = 0; i <= size; ++i) {
        auto split = run(std::vector<size_t>{i});
        if (!(split == whole)) {
            all_same = false;
            INFO("split at " << i);
            CHECK(split == whole);
        }
    }
    if (size <= pairs_up_to) {
        for (size_t i = 0; i <= size; ++i) {
            for (size_t j = i; j <= size; ++j) {
                auto split = run(std::vector<size_t>{i, j});
                if (!(split == whole)) {
                    all_same = false;
                    INFO("split at " << i << " and " << j);
                    CHECK(split == whole);
                }
            }
        }
    }
    std::vector<size_t> every;
    for (size_t i = 1; i < size; ++i) every.push_back(i);
    CHECK(run(every) == whole);
    CHECK(all_same);
    return whole;
}

}  // namespace pbtest
