#include "json.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

namespace pb::loadgen {
namespace {

[[noreturn]] void kind_error(const char* wanted) {
    throw std::runtime_error(std::string("json: expected ") + wanted);
}

void escape_to(std::string& out, const std::string& s) {
    out += '"';
    for (char c : s) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20)
                    out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
                else
                    out += c;
        }
    }
    out += '"';
}

class Parser {
public:
    explicit Parser(std::string_view text) : text_(text) {}

    Json parse_document() {
        Json value = parse_value(0);
        skip_space();
        if (pos_ != text_.size()) fail("trailing characters");
        return value;
    }

private:
    [[noreturn]] void fail(const char* what) const {
        throw std::runtime_error(fmt::format("json: {} at byte {}", what, pos_));
    }
    void skip_space() {
        while (pos_ < text_.size() && std::strchr(" \t\r\n", text_[pos_]) && text_[pos_] != '\0')
            ++pos_;
    }
    bool consume(char c) {
        skip_space();
        if (pos_ < text_.size() && text_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }
    void expect(char c) {
        if (!consume(c)) fail(fmt::format("expected '{}'", c).c_str());
    }
    bool consume_word(std::string_view word) {
        if (text_.substr(pos_, word.size()) != word) return false;
        pos_ += word.size();
        return true;
    }

    Json parse_value(int depth) {
        if (depth > 64) fail("nesting too deep");
        skip_space();
        if (pos_ >= text_.size()) fail("unexpected end");
        char c = text_[pos_];
        if (c == '{') return parse_object(depth);
        if (c == '[') return parse_array(depth);
        if (c == '"') return Json(parse_string());
        if (consume_word("true")) return Json(true);
        if (consume_word("false")) return Json(false);
        if (consume_word("null")) return Json();
        return parse_number();
    }

    Json parse_object(int depth) {
        expect('{');
        Json obj = Json::object();
        if (consume('}')) return obj;
        do {
            skip_space();
            if (pos_ >= text_.size() || text_[pos_] != '"') fail("expected a key");
            std::string key = parse_string();
            expect(':');
            obj.set(std::move(key), parse_value(depth + 1));
        } while (consume(','));
        expect('}');
        return obj;
    }

    Json parse_array(int depth) {
        expect('[');
        Json arr = Json::array();
        if (consume(']')) return arr;
        do {
            arr.push(parse_value(depth + 1));
        } while (consume(','));
        expect(']');
        return arr;
    }

    std::string parse_string() {
        ++pos_;  // opening quote
        std::string out;
        while (pos_ < text_.size()) {
            char c = text_[pos_++];
            if (c == '"') return out;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (pos_ >= text_.size()) break;
            char e = text_[pos_++];
            switch (e) {
                case '"':
                    out += '"';
                    break;
                case '\\':
                    out += '\\';
                    break;
                case '/':
                    out += '/';
                    break;
                case 'b':
                    out += '\b';
                    break;
                case 'f':
                    out += '\f';
                    break;
                case 'n':
                    out += '\n';
                    break;
                case 'r':
                    out += '\r';
                    break;
                case 't':
                    out += '\t';
                    break;
                case 'u': {
                    if (pos_ + 4 > text_.size()) fail("short \\u escape");
                    unsigned code = static_cast<unsigned>(
                        std::strtoul(std::string(text_.substr(pos_, 4)).c_str(), nullptr, 16));
                    pos_ += 4;
                    // The writer only escapes control characters; other code points
                    // are passed through as UTF-8 (no surrogate pairs needed here).
                    if (code < 0x80) {
                        out += static_cast<char>(code);
                    } else if (code < 0x800) {
                        out += static_cast<char>(0xC0 | (code >> 6));
                        out += static_cast<char>(0x80 | (code & 0x3F));
                    } else {
                        out += static_cast<char>(0xE0 | (code >> 12));
                        out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
                        out += static_cast<char>(0x80 | (code & 0x3F));
                    }
                    break;
                }
                default:
                    fail("bad escape");
            }
        }
        fail("unterminated string");
    }

    Json parse_number() {
        size_t start = pos_;
        bool integral = true;
        if (pos_ < text_.size() && text_[pos_] == '-') ++pos_;
        while (pos_ < text_.size()) {
            char c = text_[pos_];
            if (c >= '0' && c <= '9') {
                ++pos_;
            } else if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
                integral = false;
                ++pos_;
            } else {
                break;
            }
        }
        if (pos_ == start) fail("unexpected character");
        std::string digits(text_.substr(start, pos_ - start));
        char* end = nullptr;
        if (integral) {
            errno = 0;
            long long v = std::strtoll(digits.c_str(), &end, 10);
            if (errno == 0 && *end == '\0') return Json(static_cast<int64_t>(v));
        }
        double d = std::strtod(digits.c_str(), &end);
        if (*end != '\0') fail("bad number");
        return Json(d);
    }

    std::string_view text_;
    size_t pos_ = 0;
};

}  // namespace

bool Json::as_bool() const {
    if (kind_ != Kind::kBool) kind_error("a boolean");
    return bool_;
}

int64_t Json::as_int() const {
    if (kind_ == Kind::kInt) return int_;
    if (kind_ == Kind::kDouble && std::floor(double_) == double_)
        return static_cast<int64_t>(double_);
    kind_error("an integer");
}

double Json::as_double() const {
    if (kind_ == Kind::kDouble) return double_;
    if (kind_ == Kind::kInt) return static_cast<double>(int_);
    kind_error("a number");
}

const std::string& Json::as_string() const {
    if (kind_ != Kind::kString) kind_error("a string");
    return string_;
}

const Json::Array& Json::as_array() const {
    if (kind_ != Kind::kArray) kind_error("an array");
    return array_;
}

const Json::Object& Json::as_object() const {
    if (kind_ != Kind::kObject) kind_error("an object");
    return object_;
}

Json& Json::set(std::string key, Json value) {
    if (kind_ != Kind::kObject) kind_error("an object");
    for (auto& [k, v] : object_) {
        if (k == key) {
            v = std::move(value);
            return v;
        }
    }
    object_.emplace_back(std::move(key), std::move(value));
    return object_.back().second;
}

const Json* Json::find(std::string_view key) const {
    if (kind_ != Kind::kObject) return nullptr;
    for (const auto& [k, v] : object_)
        if (k == key) return &v;
    return nullptr;
}

const Json& Json::at(std::string_view key) const {
    const Json* v = find(key);
    if (!v) throw std::runtime_error(fmt::format("json: missing key \"{}\"", key));
    return *v;
}

void Json::push(Json value) {
    if (kind_ != Kind::kArray) kind_error("an array");
    array_.push_back(std::move(value));
}

std::string Json::dump(int indent) const {
    std::string out;
    dump_to(out, indent, 0);
    if (indent >= 0) out += '\n';
    return out;
}

void Json::dump_to(std::string& out, int indent, int depth) const {
    auto newline = [&](int d) {
        if (indent < 0) return;
        out += '\n';
        out.append(static_cast<size_t>(indent * d), ' ');
    };
    switch (kind_) {
        case Kind::kNull:
            out += "null";
            break;
        case Kind::kBool:
            out += bool_ ? "true" : "false";
            break;
        case Kind::kInt:
            out += fmt::format("{}", int_);
            break;
        case Kind::kDouble:
            // JSON has no NaN or infinity; a missing measurement is written as null.
            if (std::isfinite(double_))
                out += fmt::format("{}", double_);
            else
                out += "null";
            break;
        case Kind::kString:
            escape_to(out, string_);
            break;
        case Kind::kArray: {
            // Arrays of scalars and of pairs (histogram buckets) stay on one line.
            bool flat = true;
            for (const auto& v : array_)
                if (v.kind_ == Kind::kObject || (v.kind_ == Kind::kArray && v.array_.size() > 2))
                    flat = false;
            out += '[';
            for (size_t i = 0; i < array_.size(); ++i) {
                if (i) out += ',';
                if (!flat) newline(depth + 1);
                array_[i].dump_to(out, flat ? -1 : indent, depth + 1);
            }
            if (!flat && !array_.empty()) newline(depth);
            out += ']';
            break;
        }
        case Kind::kObject: {
            out += '{';
            for (size_t i = 0; i < object_.size(); ++i) {
                if (i) out += ',';
                newline(depth + 1);
                escape_to(out, object_[i].first);
                out += indent < 0 ? ":" : ": ";
                object_[i].second.dump_to(out, indent, depth + 1);
            }
            if (!object_.empty()) newline(depth);
            out += '}';
            break;
        }
    }
}

Json Json::parse(std::string_view text) {
    return Parser(text).parse_document();
}

}  // namespace pb::loadgen
