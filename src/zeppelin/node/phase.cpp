#include "zeppelin/node/phase.hpp"

#include <array>

namespace zeppelin::node {

namespace {

struct Names {
    Phase phase;
    std::string_view value;
    std::string_view label;
};

// Labels are the words the state column held before phases were typed: a store written then is
// read with them.
constexpr std::array kNames{
    Names{Phase::assigned, "assigned", "assigned"},
    Names{Phase::waiting_for_acceptance, "waiting_for_acceptance", "waiting for acceptance"},
    Names{Phase::waiting_for_worker, "waiting_for_worker", "waiting for the worker"},
    Names{Phase::transferring, "transferring", "transferring"},
    Names{Phase::waiting_for_service, "waiting_for_service", "waiting for the service"},
    Names{Phase::starting, "starting", "starting"},
    Names{Phase::accepted, "accepted", "accepted"},
    Names{Phase::waiting_for_image, "waiting_for_image", "waiting for the image"},
    Names{Phase::image_refused, "image_refused", "image refused"},
    Names{Phase::starting_work, "starting_work", "starting the work"},
    Names{Phase::checking_spec, "checking_spec", "checking the service against the client's spec"},
    Names{Phase::waiting_for_start, "waiting_for_start", "waiting for the start"},
    Names{Phase::verifying, "verifying", "verifying"},
    Names{Phase::running, "running", "running"},
    Names{Phase::stopping, "stopping", "stopping"},
    Names{Phase::cancelled, "cancelled", "cancelled"},
    Names{Phase::done, "done", "done"},
};

const Names& names_of(Phase p) noexcept {
    for (const auto& n : kNames)
        if (n.phase == p) return n;
    return kNames.front();
}

}  // namespace

std::string_view phase_value(Phase p) noexcept { return names_of(p).value; }

std::string_view phase_label(Phase p) noexcept { return names_of(p).label; }

std::optional<Phase> parse_phase(std::string_view text) noexcept {
    for (const auto& n : kNames)
        if (n.value == text || n.label == text) return n.phase;
    return std::nullopt;
}

}  // namespace zeppelin::node
