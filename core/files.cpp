#include "files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "unique_fd.hpp"

namespace pb {

namespace {

// Reads `fd` to its end into `out`; false (errno set) on a read error.
bool read_all(int fd, std::string& out) {
    char chunk[64 * 1024];
    for (;;) {
        ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n > 0) {
            out.append(chunk, static_cast<size_t>(n));
        } else if (n == 0) {
            return true;
        } else if (errno != EINTR) {
            return false;
        }
    }
}

}  // namespace

std::string slurp(const std::string& path) {
    std::string text;
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd || !read_all(fd.get(), text)) return {};
    return text;
}

std::string read_file(const std::string& path) {
    std::string text;
    UniqueFd fd(
        check_syscall(::open(path.c_str(), O_RDONLY | O_CLOEXEC), ("open " + path).c_str()));
    if (!read_all(fd.get(), text)) throw_errno(("read " + path).c_str());
    return text;
}

void write_file_atomic(const std::string& path, std::string_view text) {
    std::string tmp = path + ".tmp." + std::to_string(::getpid());
    {
        UniqueFd fd(
            check_syscall(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666),
                          ("open " + tmp).c_str()));
        while (!text.empty()) {
            ssize_t n = ::write(fd.get(), text.data(), text.size());
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw_errno(("write " + tmp).c_str());
            text.remove_prefix(static_cast<size_t>(n));
        }
        // close() is where some file systems report a failed write.
        if (::close(fd.release()) != 0) throw_errno(("close " + tmp).c_str());
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
        throw_errno(("rename " + tmp + " to " + path).c_str());
}

}  // namespace pb
