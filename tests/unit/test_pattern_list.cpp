// servers/patterns.txt is the one list of pattern servers; CMake turns it into
// patterns.hpp. Read here with a parser of its own, the file and the generated
// header must say the same, and every listed source (and only those) must exist.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "patterns.hpp"

namespace {

namespace fs = std::filesystem;

const fs::path kServers = fs::path(PB_SOURCE_DIR) / "servers";

struct Line {
    std::string name, source, threads;
};

std::vector<Line> read_list() {
    std::ifstream in(kServers / "patterns.txt");
    REQUIRE(in);
    std::vector<Line> out;
    std::string text;
    while (std::getline(in, text)) {
        std::istringstream fields(text.substr(0, text.find('#')));
        Line l;
        if (!(fields >> l.name)) continue;
        fields >> l.source >> l.threads;
        out.push_back(l);
    }
    return out;
}

}  // namespace

TEST_CASE("patterns.hpp is servers/patterns.txt, line for line", "[unit][patterns]") {
    const auto lines = read_list();
    REQUIRE(lines.size() == pb::kPatterns.size());
    for (size_t i = 0; i < lines.size(); ++i) {
        const auto& p = pb::kPatterns[i];
        INFO("line " << i << ": " << lines[i].name);
        CHECK(p.name == lines[i].name);
        CHECK(p.source == lines[i].source);
        CHECK(pb::to_string(p.threads) == lines[i].threads);
        CHECK(pb::find_pattern(lines[i].name) == &p);
        CHECK(pb::server_binary(p) == "server-" + lines[i].name);
    }
    CHECK(pb::find_pattern("pingpong") == nullptr);
    CHECK(pb::find_pattern("") == nullptr);
}

TEST_CASE("every listed source exists, and every server source is listed", "[unit][patterns]") {
    std::set<std::string> listed;
    for (const auto& p : pb::kPatterns) {
        INFO(p.source);
        CHECK(fs::is_regular_file(kServers / p.source));
        listed.emplace(p.source);
    }
    for (const auto& entry : fs::directory_iterator(kServers)) {
        if (entry.path().extension() != ".cpp") continue;
        INFO("servers/" << entry.path().filename().string() << " has no line in patterns.txt");
        CHECK(listed.count(entry.path().filename().string()) == 1);
    }
}
