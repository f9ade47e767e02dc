#include "zeppelin/runtime/json_stream.hpp"

#include <algorithm>

namespace zeppelin::runtime {

namespace {

bool is_space(char c) {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

std::string trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return std::string{s};
}

std::string printable_excerpt(std::string_view s, std::size_t limit = 200) {
    std::string out;
    for (char c : s.substr(0, limit)) {
        const auto u = static_cast<unsigned char>(c);
        out += (u >= 0x20 && u < 0x7f) ? c : (c == '\n' || c == '\t') ? ' ' : '?';
    }
    if (s.size() > limit) out += "...";
    return out;
}

}  // namespace

Result<std::vector<nlohmann::json>> JsonStreamSplitter::feed(std::string_view piece) {
    std::vector<nlohmann::json> out;
    pending_.append(piece);
    std::size_t start = 0;  // beginning of the value being scanned
    std::size_t i = scanned_;
    while (i < pending_.size()) {
        const char c = pending_[i];
        if (depth_ == 0 && !in_string_) {
            if (is_space(c)) {
                ++i;
                start = i;
                continue;
            }
            if (c != '{' && c != '[')
                return Error{Errc::engine_error, "container engine sent a stream that is not JSON objects: \"" +
                                                     printable_excerpt(std::string_view{pending_}.substr(i)) + "\""};
        }
        if (in_string_) {
            if (escaped_)
                escaped_ = false;
            else if (c == '\\')
                escaped_ = true;
            else if (c == '"')
                in_string_ = false;
        } else if (c == '"') {
            in_string_ = true;
        } else if (c == '{' || c == '[') {
            ++depth_;
        } else if (c == '}' || c == ']') {
            --depth_;
            if (depth_ == 0) {
                const std::string_view text = std::string_view{pending_}.substr(start, i + 1 - start);
                auto value = nlohmann::json::parse(text, nullptr, false);
                if (value.is_discarded())
                    return Error{Errc::engine_error,
                                 "container engine sent malformed JSON: \"" + printable_excerpt(text) + "\""};
                out.push_back(std::move(value));
                start = i + 1;
            }
        }
        ++i;
    }
    pending_.erase(0, start);
    scanned_ = i - start;
    if (pending_.size() > max_value_bytes)
        return Error{Errc::engine_error,
                     "container engine sent a JSON value larger than " + std::to_string(max_value_bytes) + " bytes"};
    return out;
}

Result<std::vector<nlohmann::json>> split_json_stream(std::string_view text) {
    JsonStreamSplitter splitter;
    splitter.max_value_bytes = std::max(splitter.max_value_bytes, text.size());
    auto values = ZP_TRY(splitter.feed(text));
    if (!splitter.idle())
        return Error{Errc::engine_error, "container engine's JSON stream ends in the middle of a value"};
    return values;
}

std::string engine_message(std::string_view body) {
    auto value = nlohmann::json::parse(body, nullptr, false);
    if (value.is_object()) {
        for (const char* key : {"message", "error", "cause"}) {
            auto it = value.find(key);
            if (it != value.end() && it->is_string() && !it->get_ref<const std::string&>().empty())
                return printable_excerpt(trim(it->get_ref<const std::string&>()), 2000);
        }
    }
    const std::string text = trim(body);
    if (text.empty()) return "(empty reply)";
    return printable_excerpt(text, 500);
}

Result<LoadReport> parse_load_reply(std::string_view body) {
    auto values = split_json_stream(body);
    if (!values) return values.error().wrap("reading the reply to the image load");
    LoadReport report;
    for (const auto& v : *values) {
        if (!v.is_object()) continue;
        if (auto detail = v.find("errorDetail"); detail != v.end() && detail->is_object()) {
            auto m = detail->find("message");
            if (m != detail->end() && m->is_string())
                return Error{Errc::engine_error, "image load failed: " + trim(m->get<std::string>())};
        }
        if (auto err = v.find("error"); err != v.end() && err->is_string() && !err->get<std::string>().empty())
            return Error{Errc::engine_error, "image load failed: " + trim(err->get<std::string>())};
        auto stream = v.find("stream");
        if (stream == v.end() || !stream->is_string()) continue;
        // A stream element may carry several lines.
        std::string_view text = stream->get_ref<const std::string&>();
        while (!text.empty()) {
            const auto nl = text.find('\n');
            const std::string line = trim(text.substr(0, nl));
            text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
            static constexpr std::string_view id_prefix = "Loaded image ID: ";
            static constexpr std::string_view name_prefix = "Loaded image: ";
            static constexpr std::string_view names_prefix = "Loaded image(s): ";  // older Podman
            std::string_view l = line;
            if (l.starts_with(id_prefix)) {
                report.ids.push_back(trim(l.substr(id_prefix.size())));
                continue;
            }
            if (l.starts_with(name_prefix))
                l.remove_prefix(name_prefix.size());
            else if (l.starts_with(names_prefix))
                l.remove_prefix(names_prefix.size());
            else
                continue;
            while (!l.empty()) {
                const auto comma = l.find(',');
                std::string name = trim(l.substr(0, comma));
                if (!name.empty()) {
                    // Podman reports an untagged image by its bare ID.
                    if (name.size() == 64 && std::all_of(name.begin(), name.end(), [](char c) {
                            return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                        }))
                        report.ids.push_back("sha256:" + name);
                    else if (name.starts_with("sha256:"))
                        report.ids.push_back(std::move(name));
                    else
                        report.names.push_back(std::move(name));
                }
                l = comma == std::string_view::npos ? std::string_view{} : l.substr(comma + 1);
            }
        }
    }
    if (report.names.empty() && report.ids.empty())
        return Error{Errc::engine_error, "image load reply names no loaded image: \"" + printable_excerpt(body) + "\""};
    return report;
}

}  // namespace zeppelin::runtime
