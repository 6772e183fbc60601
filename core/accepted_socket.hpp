// The socket options a server sets on every connection it accepts, shared by
// both connection engines (Reactor, serve_blocking) so that every pattern
// treats a failure alike: counted, that connection closed, the server serving on.
//
// Thread rules: any thread; `stats` must belong to the calling thread.
#pragma once

#include "options.hpp"
#include "stats.hpp"

namespace pb {

// Sets what `options` asks on the accepted connection `fd` (TCP_NODELAY with
// --nodelay on). Returns false if a setsockopt failed, counted in `stats` as
// kSocketOption; the caller then closes the connection without serving it.
// Closing is the conservative choice: the failure seen in practice (EINVAL on
// macOS and the BSDs) means the peer has already reset the connection, and a
// connection served without the TCP_NODELAY the run asked for would measure
// Nagle stalls nobody asked for.
//
// --fail-setsockopt-every K (fault injection) makes every K-th call in the
// process fail with errno EINVAL without calling setsockopt.
bool prepare_accepted(int fd, const ServerOptions& options, ThreadStats& stats) noexcept;

}  // namespace pb
