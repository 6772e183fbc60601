// server-uring where it cannot be built (no Linux, or no liburing): it says
// why and exits 69 (pb::kExitUnavailable), as the real one does on a machine
// whose kernel refuses io_uring, so the bench marks the pattern "not available
// on this machine" and the tests leave it out. core/CMakeLists.txt chooses.
#include "server.hpp"

namespace {

int run(int, char**) {
    throw pb::Unavailable("built without liburing (install liburing-dev, then rebuild)");
}

}  // namespace

int main(int argc, char** argv) {
    return pb::guarded_main("server-uring", run, argc, argv);
}
