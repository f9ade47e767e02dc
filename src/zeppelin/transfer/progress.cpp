#include "zeppelin/transfer/progress.hpp"

#include <cinttypes>

namespace zeppelin::transfer {

std::string human_bytes(std::uint64_t b) {
    const char* units[] = {"B", "kB", "MB", "GB", "TB"};
    int u = 0;
    std::uint64_t whole = b;
    std::uint64_t scale = 1;
    while (whole >= 1000 && u < 4) {
        whole /= 1000;
        scale *= 1000;
        ++u;
    }
    if (u == 0) return std::to_string(b) + "B";
    // one decimal, integer arithmetic
    std::uint64_t tenths = (b % scale) * 10 / scale;
    return std::to_string(whole) + "." + std::to_string(tenths) + units[u];
}

std::vector<std::string> ProgressRenderer::render(const Progress& p, std::size_t width) {
    std::vector<std::string> lines;
    for (const auto& l : p.layers) {
        std::string line = short_digest(l.diff_id) + ": ";
        switch (l.state) {
            case LayerProgress::State::waiting:
                line += "Waiting";
                break;
            case LayerProgress::State::exists:
                line += "Layer already exists";
                break;
            case LayerProgress::State::pushed:
                line += "Pushed";
                break;
            case LayerProgress::State::pushing: {
                std::size_t filled = l.size == 0 ? width : static_cast<std::size_t>(l.done * width / l.size);
                std::string bar(width, ' ');
                for (std::size_t i = 0; i < filled && i < width; ++i) bar[i] = '=';
                if (filled < width) bar[filled] = '>';
                line += "Pushing [" + bar + "]  " + human_bytes(l.done) + "/" + human_bytes(l.size);
                break;
            }
        }
        lines.push_back(std::move(line));
    }
    std::string total = "total " + human_bytes(p.bytes_done) + "/" + human_bytes(p.bytes_total);
    if (p.rate > 0) total += "  " + human_bytes(static_cast<std::uint64_t>(p.rate)) + "/s";
    if (p.eta_seconds >= 0 && !p.finished) {
        auto s = static_cast<std::uint64_t>(p.eta_seconds + 0.5);
        char buf[32];
        std::snprintf(buf, sizeof buf, "  ETA %" PRIu64 ":%02" PRIu64, s / 60, s % 60);
        total += buf;
    }
    if (p.attempt > 1) total += "  (attempt " + std::to_string(p.attempt) + ")";
    lines.push_back(std::move(total));
    return lines;
}

void ProgressRenderer::operator()(const Progress& p) {
    auto lines = render(p);
    if (tty_) {
        if (drawn_ > 0) std::fprintf(out_, "\x1b[%zuA", drawn_);
        for (const auto& l : lines) std::fprintf(out_, "\x1b[2K%s\n", l.c_str());
        drawn_ = lines.size();
    } else {
        // Only state changes, and the final total.
        std::vector<LayerProgress::State> states;
        for (const auto& l : p.layers) states.push_back(l.state);
        for (std::size_t i = 0; i < states.size(); ++i)
            if (i >= last_states_.size() || last_states_[i] != states[i]) std::fprintf(out_, "%s\n", lines[i].c_str());
        last_states_ = std::move(states);
        if (p.finished) std::fprintf(out_, "%s\n", lines.back().c_str());
    }
    std::fflush(out_);
}

}  // namespace zeppelin::transfer
