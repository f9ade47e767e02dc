// Where one agreement stands for this node, as a typed value.
//
// Each role walks its own phases; every phase has a stable machine value (what the store keeps and
// the API and the dashboard compare against: "waiting_for_service") and a label for people
// ("waiting for the service"). Labels may change wording; values never do.
//
//   client    waiting_for_acceptance -> waiting_for_worker -> transferring -> waiting_for_service
//             -> starting -> running [-> stopping] -> done   (cancelled: image refused or unusable;
//             stopping: the client stopped it, the periods served are being settled)
//   worker    assigned -> accepted -> waiting_for_image -> starting_work -> checking_spec -> running -> done
//             (image_refused: the client's image failed the worker's checks; checking_spec: its own
//             service probed with the client's spec before the paid clock starts)
//   verifier  assigned -> waiting_for_start -> verifying -> done
#pragma once

#include <optional>
#include <string_view>

namespace zeppelin::node {

enum class Phase {
    assigned,
    waiting_for_acceptance,
    waiting_for_worker,
    transferring,
    waiting_for_service,
    starting,
    accepted,
    waiting_for_image,
    image_refused,
    starting_work,
    checking_spec,
    waiting_for_start,
    verifying,
    running,
    stopping,
    cancelled,
    done,
};

/// The stable machine value ("waiting_for_service").
std::string_view phase_value(Phase p) noexcept;
/// The words for people ("waiting for the service").
std::string_view phase_label(Phase p) noexcept;
/// A machine value, or a label as stores written before phases were typed kept it.
std::optional<Phase> parse_phase(std::string_view text) noexcept;
/// The agreement needs nothing more from this node.
constexpr bool is_final(Phase p) noexcept { return p == Phase::done; }

}  // namespace zeppelin::node
