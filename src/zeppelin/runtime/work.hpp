// Running an agreement's work: one container per agreement, created from the agreed image with the
// agreed limits, labelled with the agreement id so that a restarted worker finds it again, and
// removed (with its image) when the agreement ends.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "zeppelin/core/result.hpp"
#include "zeppelin/runtime/engine.hpp"

namespace zeppelin::runtime {

/// Labels Zeppelin puts on its containers.
inline constexpr std::string_view kAgreementLabel = "io.zeppelin.agreement";  // the agreement id
inline constexpr std::string_view kWorkerLabel = "io.zeppelin.worker";        // the worker's identity
inline constexpr std::string_view kManagedLabel = "io.zeppelin.managed";      // "1"

struct Ulimit {
    std::int64_t soft{0};
    std::int64_t hard{0};
};

enum class RestartPolicy { no, on_failure, unless_stopped, always };

std::string_view to_string(RestartPolicy p) noexcept;
Result<RestartPolicy> parse_restart_policy(std::string_view text);

/// Everything needed to run an agreement's work.
struct WorkSpec {
    std::string agreement_id;  // [A-Za-z0-9_.-]+, e.g. the agreement number or its hex hash
    std::string worker_id;     // optional: separates several workers sharing one engine
    std::string image;         // image id ("sha256:...") or reference the engine holds

    std::uint64_t memory_bytes{256u * 1024u * 1024u};  // hard limit; swap is set equal (no swap)
    std::uint64_t nano_cpus{1'000'000'000};            // 1e9 = one CPU
    std::int64_t pids_limit{256};
    // Both ulimits are required on these machines: Podman's defaults exceed the host's hard limits.
    // RLIMIT_NPROC counts every process of the same host uid (root containers share uid 0 with the
    // host), so it is set generously; the pids cgroup limit above is the real per-container bound.
    Ulimit nofile{1024, 1024};
    Ulimit nproc{8192, 8192};

    std::uint16_t container_port{8080};  // the one service port
    std::string protocol{"tcp"};
    std::uint16_t host_port{0};        // 0: the engine picks a free port
    std::string host_ip{"127.0.0.1"};  // "0.0.0.0" to serve other machines

    RestartPolicy restart{RestartPolicy::no};
    unsigned restart_max_retries{0};  // for on_failure

    std::vector<std::string> cmd;  // empty: the image's own command
    std::vector<std::string> env;  // "KEY=value"
    std::map<std::string, std::string> extra_labels;
};

/// Checks a WorkSpec; Errc::invalid_argument with the reason.
Result<void> validate(const WorkSpec& spec);

/// The container name for an agreement ("zeppelin-<worker>-<agreement>").
std::string container_name(const WorkSpec& spec);

/// The Docker API body of POST /containers/create for `spec` (validated).
Result<nlohmann::json> build_create_body(const WorkSpec& spec);

/// A running (or finished) agreement container.
struct RunningWork {
    std::string agreement_id;
    std::string container_id;
    std::string container_name;
    std::string image;     // reference it was created from
    std::string image_id;  // "sha256:..."
    std::string state;     // "running", "exited", ...
    std::string host_ip;
    std::uint16_t host_port{0};  // where the service is published (0 if not published)
};

/// Creates and starts the agreement's container and returns where its port is published. A
/// leftover container of the same agreement (e.g. from a crash between create and start) is
/// replaced. On failure nothing is left behind.
Result<RunningWork> start_work(const Engine& engine, const WorkSpec& spec);

/// Every Zeppelin container on the engine (of `worker_id` when not empty), by agreement id: what a
/// restarted worker calls to find its work again.
Result<std::map<std::string, RunningWork>> find_work(const Engine& engine, std::string_view worker_id = {});

/// The container of one agreement; Errc::not_found when there is none.
Result<RunningWork> find_agreement(const Engine& engine, std::string_view agreement_id,
                                   std::string_view worker_id = {});

struct EndOptions {
    std::chrono::seconds grace{0};  // SIGTERM grace before SIGKILL; 0 = kill now
    bool remove_image{true};        // also remove the image unless another container still uses it
};

/// Stops and removes every container of the agreement and, by default, its image. Succeeds when
/// nothing is left (also when there was nothing to begin with).
Result<void> end_work(const Engine& engine, std::string_view agreement_id, const EndOptions& options = {},
                      std::string_view worker_id = {});

}  // namespace zeppelin::runtime
