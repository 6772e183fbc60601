// A small JSON value with a writer and a strict parser: enough for the loadgen
// record (write it, read it back to merge runs). Objects keep insertion order so
// the files diff well. Integers are kept as int64 so histogram counts round-trip
// exactly; anything with a fraction or exponent is a double.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pb::loadgen {

class Json {
public:
    enum class Kind { kNull, kBool, kInt, kDouble, kString, kArray, kObject };
    using Array = std::vector<Json>;
    using Object = std::vector<std::pair<std::string, Json>>;

    Json() = default;
    Json(std::nullptr_t) {}
    Json(bool b) : kind_(Kind::kBool), bool_(b) {}
    Json(int v) : kind_(Kind::kInt), int_(v) {}
    Json(int64_t v) : kind_(Kind::kInt), int_(v) {}
    Json(uint64_t v) : kind_(Kind::kInt), int_(static_cast<int64_t>(v)) {}
    Json(uint32_t v) : kind_(Kind::kInt), int_(v) {}
    Json(double v) : kind_(Kind::kDouble), double_(v) {}
    Json(const char* s) : kind_(Kind::kString), string_(s) {}
    Json(std::string s) : kind_(Kind::kString), string_(std::move(s)) {}
    Json(std::string_view s) : kind_(Kind::kString), string_(s) {}
    Json(Array a) : kind_(Kind::kArray), array_(std::move(a)) {}

    static Json object() {
        Json j;
        j.kind_ = Kind::kObject;
        return j;
    }
    static Json array() { return Json(Array{}); }

    Kind kind() const { return kind_; }
    bool is_null() const { return kind_ == Kind::kNull; }
    bool is_object() const { return kind_ == Kind::kObject; }
    bool is_array() const { return kind_ == Kind::kArray; }
    bool is_number() const { return kind_ == Kind::kInt || kind_ == Kind::kDouble; }

    // Typed reads; each throws std::runtime_error on a kind mismatch.
    bool as_bool() const;
    int64_t as_int() const;  // a double with no fraction is accepted too
    double as_double() const;
    const std::string& as_string() const;
    const Array& as_array() const;
    const Object& as_object() const;

    // Object access. set() appends or replaces; find() returns nullptr when absent;
    // at() throws naming the missing key.
    Json& set(std::string key, Json value);
    const Json* find(std::string_view key) const;
    const Json& at(std::string_view key) const;
    // Array append.
    void push(Json value);

    // indent < 0: one line. Short arrays of numbers stay on one line either way.
    std::string dump(int indent = 2) const;
    // Throws std::runtime_error with the byte offset on malformed input.
    static Json parse(std::string_view text);

private:
    void dump_to(std::string& out, int indent, int depth) const;

    Kind kind_ = Kind::kNull;
    bool bool_ = false;
    int64_t int_ = 0;
    double double_ = 0.0;
    std::string string_;
    Array array_;
    Object object_;
};

}  // namespace pb::loadgen
