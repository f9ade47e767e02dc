// A client of the Docker Engine API (version 1.41) over its unix socket. It works with Docker and
// with Podman's compatible service (`podman system service unix:///path`).
//
// Every call opens its own connection and runs under a deadline (EngineOptions), so an Engine may
// be shared by several threads and no call hangs when the engine does. Failures are Errors:
//   Errc::io            the engine is not reachable, or the connection broke mid-call (crash)
//   Errc::timeout       the engine did not answer in time
//   Errc::not_found     no such image / container (HTTP 404)
//   Errc::already_exists a container of that name exists (HTTP 409 on create)
//   Errc::engine_error  the engine refused the request, or replied something unreadable
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "zeppelin/core/result.hpp"
#include "zeppelin/runtime/address.hpp"
#include "zeppelin/runtime/log_demux.hpp"
#include "zeppelin/runtime/unix_http.hpp"

namespace zeppelin::runtime {

struct EngineOptions {
    std::string api_version{"v1.41"};  // path prefix of every call
    std::chrono::milliseconds connect_timeout{2000};
    std::chrono::milliseconds request_timeout{30000};  // an ordinary call, start to end
    std::chrono::milliseconds load_timeout{600000};    // a whole image load (upload + import)
    std::size_t max_reply_bytes{32u * 1024u * 1024u};  // a larger (non-streamed) reply is an error
};

struct EngineVersion {
    std::string version;      // engine version, e.g. "4.3.1"
    std::string api_version;  // e.g. "1.41"
    std::string os;
    std::string arch;
    bool podman{false};  // served by Podman's compatibility layer
};

struct LoadedImage {
    std::string id;                  // "sha256:<config digest>"
    std::vector<std::string> names;  // tags the archive carried, e.g. "localhost/app:1"
};

struct PullOptions {
    bool tls_verify{true};  // false: the registry speaks plain HTTP (one on loopback)
};

struct ImageInfo {
    std::string id;  // "sha256:<config digest>"
    std::vector<std::string> repo_tags;
    std::vector<std::string> diff_ids;  // rootfs layer digests, "sha256:..."
    std::int64_t size{0};
    std::string os;
    std::string architecture;
    std::vector<std::uint16_t> exposed_tcp_ports;  // Config.ExposedPorts "<n>/tcp", ascending
};

struct PublishedPort {
    std::uint16_t container_port{0};
    std::string protocol{"tcp"};
    std::string host_ip;
    std::uint16_t host_port{0};
};

struct ContainerState {
    std::string status;  // "created", "running", "exited", ...
    bool running{false};
    bool restarting{false};
    bool oom_killed{false};
    bool dead{false};
    int exit_code{0};
    int pid{0};
    std::string error;
    std::string started_at;
    std::string finished_at;
};

struct ContainerInfo {
    std::string id;
    std::string name;   // without the leading '/'
    std::string image;  // the reference it was created from
    std::string image_id;
    std::map<std::string, std::string> labels;
    ContainerState state;
    std::vector<PublishedPort> ports;
    bool tty{false};
    int restart_count{0};
    // Limits as the engine applied them.
    std::int64_t memory{0};
    std::int64_t memory_swap{0};
    std::int64_t nano_cpus{0};
    std::int64_t pids_limit{0};
};

struct ContainerSummary {
    std::string id;
    std::string name;  // without the leading '/'
    std::string image;
    std::string image_id;
    std::string state;   // "running", "exited", ...
    std::string status;  // human text, "Up 5 minutes"
    std::map<std::string, std::string> labels;
    std::vector<PublishedPort> ports;
};

struct WaitResult {
    int exit_code{0};
    std::string error;  // the engine's message, if any
};

struct ContainerStats {
    std::uint64_t pids{0};
    std::uint64_t memory_usage{0};
    std::uint64_t memory_limit{0};
};

struct LogOptions {
    bool stdout_{true};
    bool stderr_{true};
    bool follow{false};  // keep streaming until the container stops (or the sink returns false)
    bool timestamps{false};
    std::optional<unsigned> tail;              // only the last N lines
    std::chrono::milliseconds timeout{30000};  // the whole call; for follow, how long to stream at most
};

struct EngineEvent {
    std::string type;    // "container", "image", ...
    std::string action;  // "create", "start", "die", "oom", "kill", "stop", "remove", ...
    std::string id;
    std::map<std::string, std::string> attributes;  // labels, "name", "image", "exitCode", ...
    std::int64_t time_nano{0};
};

struct EventFilter {
    std::vector<std::string> types;   // e.g. {"container"}
    std::vector<std::string> events;  // e.g. {"die", "oom"}
    std::vector<std::string> labels;  // "key" or "key=value"
    // Unix seconds; past events are replayed from here. Podman 4.3 honours it poorly (it may replay
    // its whole event log, slowly): to watch for exits, listen live, or use wait_container().
    std::optional<std::int64_t> since;
};

/// Receives events; returns false to stop listening.
using EventSink = std::function<bool(const EngineEvent&)>;

class Engine final {
  public:
    explicit Engine(EngineAddress address, EngineOptions options = {});

    /// An Engine at EngineAddress::from_environment() (ZEPPELIN_DOCKER_HOST, DOCKER_HOST, defaults).
    static Result<Engine> from_environment(EngineOptions options = {});

    [[nodiscard]] const EngineAddress& address() const noexcept { return http_.address(); }
    [[nodiscard]] const EngineOptions& options() const noexcept { return options_; }

    // ---- system
    Result<void> ping() const;
    Result<EngineVersion> version() const;

    // ---- images
    /// Loads a docker-archive (`docker save`) or OCI-archive tar from a file.
    Result<LoadedImage> load_image(const std::filesystem::path& archive) const;
    /// Loads an archive produced piece by piece by `source` (streamed, chunked encoding; `size`
    /// when known). Used to feed an image straight from the transfer layer.
    Result<LoadedImage> load_image(BodySource source, std::optional<std::uint64_t> size = std::nullopt) const;
    /// Pulls `reference` ("host:port/name:tag") from a registry; returns the image id
    /// ("sha256:<config digest>"). Podman: POST /libpod/images/pull, which can skip TLS; Docker:
    /// POST /images/create, which takes a registry on 127.0.0.0/8 over plain HTTP by itself.
    Result<std::string> pull_image(std::string_view reference, const PullOptions& options = {}) const;
    Result<ImageInfo> inspect_image(std::string_view ref) const;
    /// Gives an image one more name, `repo:tag` (POST /images/{name}/tag).
    Result<void> tag_image(std::string_view ref, std::string_view repo, std::string_view tag) const;
    /// Errc::not_found when absent; engine_error (HTTP 409) while a container uses it, unless `force`.
    Result<void> remove_image(std::string_view ref, bool force = false) const;
    /// Saves an image the engine holds (by name or id) as a docker-archive tar at `out`
    /// (GET /images/{name}/get), written to a temporary file first and renamed when complete.
    Result<void> export_image(std::string_view ref, const std::filesystem::path& out) const;

    // ---- containers
    /// POST /containers/create with a Docker API ContainerConfig (see work.hpp for the one Zeppelin
    /// builds); returns the container id. `name` may be empty (the engine picks one).
    Result<std::string> create_container(const nlohmann::json& config, std::string_view name = {}) const;
    Result<void> start_container(std::string_view id) const;  // already running: ok
    Result<ContainerInfo> inspect_container(std::string_view id) const;
    /// Stops with SIGTERM, then SIGKILL after `grace` (0 s = kill at once). Already stopped: ok.
    Result<void> stop_container(std::string_view id, std::chrono::seconds grace) const;
    Result<void> kill_container(std::string_view id, std::string_view signal = "KILL") const;
    /// Removes the container (`force`: even while running). Errc::not_found when absent.
    Result<void> remove_container(std::string_view id, bool force = true) const;
    /// Blocks until the container is not running, at most `timeout` (Errc::timeout after that).
    Result<WaitResult> wait_container(std::string_view id, std::chrono::milliseconds timeout) const;
    /// Streams the container's output to `sink`, demultiplexed when the container has no TTY (with a
    /// TTY everything arrives as stdout).
    Result<void> logs(std::string_view id, const LogOptions& options, const LogSink& sink) const;
    /// All containers (running or not) carrying every label in `labels` ("key" or "key=value").
    Result<std::vector<ContainerSummary>> list_containers(const std::vector<std::string>& labels,
                                                          bool include_stopped = true) const;
    Result<ContainerStats> stats(std::string_view id) const;

    /// Streams engine events matching `filter` until the sink returns false or `timeout` passes (a
    /// timeout ends the call with Errc::timeout).
    Result<void> events(const EventFilter& filter, std::chrono::milliseconds timeout, const EventSink& sink) const;

    /// Any other call: returns the parsed JSON reply (null for an empty body) of a 2xx answer.
    Result<nlohmann::json> call(std::string_view method, std::string_view path_and_query,
                                const std::optional<nlohmann::json>& body = std::nullopt) const;

  private:
    [[nodiscard]] std::string path(std::string_view p) const { return "/" + options_.api_version + std::string{p}; }
    [[nodiscard]] HttpTimeouts timeouts(std::chrono::milliseconds total) const;
    Result<HttpReply> send(const HttpRequest& request, std::chrono::milliseconds total) const;
    Result<LoadedImage> finish_load(const Result<HttpReply>& reply) const;

    EngineOptions options_;
    UnixHttpClient http_;
};

/// Percent-encodes a query parameter value.
std::string url_encode(std::string_view text);

/// Parses the JSON of GET /containers/{id}/json (exposed for tests).
Result<ContainerInfo> parse_container_info(const nlohmann::json& j);

}  // namespace zeppelin::runtime
