// A connected UNIX stream socketpair for the Poller and EventLoop contract
// tests: readiness without TCP, closed with its two UniqueFds.
#pragma once

#include <sys/socket.h>

#include <catch2/catch.hpp>

#include "unique_fd.hpp"

namespace pbtest {

struct SocketPair {
    pb::UniqueFd a;
    pb::UniqueFd b;
};

inline SocketPair socket_pair() {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    return {pb::UniqueFd(sv[0]), pb::UniqueFd(sv[1])};
}

}  // namespace pbtest
