// A growable byte buffer with a read and a write index (muduo's Buffer, simplified).
// Data lives in [read_, write_); consume() advances read_, and the space before it
// is reclaimed by compaction instead of reallocation when possible.
#pragma once

#include <cstddef>
#include <cstring>
#include <string_view>
#include <vector>

namespace pb {

class Buffer {
public:
    size_t readable() const { return write_ - read_; }
    bool empty() const { return read_ == write_; }
    const char* peek() const { return data_.data() + read_; }
    std::string_view view() const { return {peek(), readable()}; }

    void consume(size_t n) {
        read_ += n;
        if (read_ == write_) read_ = write_ = 0;
    }
    void clear() { read_ = write_ = 0; }

    // Returns space for at least `n` bytes at the write end; follow with commit().
    char* prepare(size_t n) {
        if (data_.size() - write_ < n) make_room(n);
        return data_.data() + write_;
    }
    void commit(size_t n) { write_ += n; }
    size_t writable() const { return data_.size() - write_; }

    void append(const void* bytes, size_t n) {
        if (n == 0) return;  // memcpy may not be given the null data() of an empty buffer
        std::memcpy(prepare(n), bytes, n);
        commit(n);
    }
    void append(std::string_view s) { append(s.data(), s.size()); }

    // Bytes allocated, for memory accounting.
    size_t capacity() const { return data_.size(); }
    // Gives memory back once a large burst has drained.
    void shrink_if_idle(size_t keep) {
        if (empty() && data_.size() > keep) {
            std::vector<char>(keep).swap(data_);
            read_ = write_ = 0;
        }
    }

private:
    void make_room(size_t n) {
        size_t used = readable();
        if (read_ + (data_.size() - write_) >= n && read_ > 0) {
            std::memmove(data_.data(), data_.data() + read_, used);
        } else {
            std::vector<char> bigger(std::max(data_.size() * 2, used + n));
            if (used) std::memcpy(bigger.data(), data_.data() + read_, used);
            data_.swap(bigger);
        }
        read_ = 0;
        write_ = used;
    }

    std::vector<char> data_;
    size_t read_ = 0;
    size_t write_ = 0;
};

}  // namespace pb
