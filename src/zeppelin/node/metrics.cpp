#include "zeppelin/node/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace zeppelin::node {

namespace {

// [a-zA-Z_:][a-zA-Z0-9_:]* for metric names, the same without ':' for label names.
bool valid_name(std::string_view name, bool colon_ok) {
    auto ok = [&](char c, bool first) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon_ok && c == ':') ||
               (!first && c >= '0' && c <= '9');
    };
    if (name.empty() || !ok(name.front(), true)) return false;
    return std::all_of(name.begin() + 1, name.end(), [&](char c) { return ok(c, false); });
}

// Escapes backslash and newline, and also the double quote when `quote`.
void append_escaped(std::string& out, std::string_view text, bool quote) {
    for (char c : text) {
        if (c == '\\') out += "\\\\";
        else if (c == '\n') out += "\\n";
        else if (c == '"' && quote) out += "\\\"";
        else out += c;
    }
}

void append_value(std::string& out, double v) {
    if (std::isnan(v)) out += "NaN";
    else if (std::isinf(v)) out += v > 0 ? "+Inf" : "-Inf";
    else {
        char buf[32];
        const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
        out.append(buf, ec == std::errc{} ? end : buf);
    }
}

}  // namespace

void Metrics::Counter::inc(const Labels& labels, double by) const {
    if (by >= 0) metrics_->update(*family_, labels, by, true);
}

void Metrics::Gauge::set(double value, const Labels& labels) const { metrics_->update(*family_, labels, value, false); }

void Metrics::Gauge::add(double by, const Labels& labels) const { metrics_->update(*family_, labels, by, true); }

Metrics::Counter Metrics::counter(const std::string& name, std::string help) {
    return Counter{*this, family(name, std::move(help), Type::counter)};
}

Metrics::Gauge Metrics::gauge(const std::string& name, std::string help) {
    return Gauge{*this, family(name, std::move(help), Type::gauge)};
}

Metrics::Family& Metrics::family(const std::string& name, std::string help, Type type) {
    if (!valid_name(name, true)) throw std::invalid_argument{"invalid metric name \"" + name + "\""};
    std::lock_guard lock{mutex_};
    auto [it, inserted] = families_.try_emplace(name, Family{type, std::move(help), {}});
    if (!inserted && it->second.type != type)
        throw std::invalid_argument{"metric \"" + name + "\" registered twice with different types"};
    return it->second;
}

void Metrics::update(Family& f, const Labels& labels, double value, bool add) {
    Labels key = labels;
    std::sort(key.begin(), key.end());
    for (std::size_t i = 0; i < key.size(); ++i) {
        if (!valid_name(key[i].first, false) || (i > 0 && key[i].first == key[i - 1].first))
            throw std::invalid_argument{"invalid or repeated label name \"" + key[i].first + "\""};
    }
    std::lock_guard lock{mutex_};
    double& v = f.series[std::move(key)];
    v = add ? v + value : value;
}

std::string Metrics::render() const {
    std::lock_guard lock{mutex_};
    std::string out;
    for (const auto& [name, f] : families_) {
        out.append("# HELP ").append(name).append(" ");
        append_escaped(out, f.help, false);
        out.append("\n# TYPE ").append(name).append(f.type == Type::counter ? " counter\n" : " gauge\n");
        for (const auto& [labels, value] : f.series) {
            out += name;
            for (std::size_t i = 0; i < labels.size(); ++i) {
                out.append(i == 0 ? "{" : ",").append(labels[i].first).append("=\"");
                append_escaped(out, labels[i].second, true);
                out += '"';
            }
            out.append(labels.empty() ? " " : "} ");
            append_value(out, value);
            out += '\n';
        }
    }
    return out;
}

}  // namespace zeppelin::node
