#include "loop_thread.hpp"

namespace pb {

void LoopThread::start() {
    thread = std::thread([this] { loop.run(); });
}

void LoopThread::join() {
    if (thread.joinable()) thread.join();
}

bool LoopThread::post_adopt(UniqueFd fd) {
    // std::function needs a copyable task: the fd travels in a shared_ptr.
    auto conn = std::make_shared<UniqueFd>(std::move(fd));
    return loop.post([this, conn] { reactor.adopt(std::move(*conn)); });
}

void LoopThread::post_shutdown(std::function<void()> on_drained) {
    loop.post([this, on_drained = std::move(on_drained)] {
        reactor.begin_shutdown([this, on_drained] {
            if (on_drained) on_drained();
            loop.stop();
        });
    });
}

void join_loops(const std::vector<std::unique_ptr<LoopThread>>& loops,
                std::vector<ThreadStats>& stats) {
    for (const auto& t : loops) {
        t->join();
        stats.push_back(t->stats);
    }
}

}  // namespace pb
