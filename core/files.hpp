// Whole-file reads and writes for small files: stats, records, /proc entries.
#pragma once

#include <string>
#include <string_view>

namespace pb {

// The whole file at `path`, or "" when it cannot be read (a /proc entry of a
// thread that has exited, a file not written yet).
std::string slurp(const std::string& path);

// The whole file at `path`. Throws std::system_error naming the call
// ("open PATH", "read PATH") when it cannot be read.
std::string read_file(const std::string& path);

// Writes `text` to "PATH.tmp.PID" and renames it to `path`, so a reader sees
// the old file or the whole new one, never half of it. Throws std::system_error
// naming the call ("open PATH.tmp.PID", "write ...", "rename ... to PATH").
void write_file_atomic(const std::string& path, std::string_view text);

}  // namespace pb
