// Where the container engine listens: a Docker Engine API endpoint on a unix socket, as Docker
// (/var/run/docker.sock) and Podman (`podman system service unix:///path`) both offer it.
#pragma once

#include <string>
#include <string_view>

#include "zeppelin/core/result.hpp"

namespace zeppelin::runtime {

struct EngineAddress {
    std::string socket_path;  // absolute path of the unix socket

    /// Parses "unix:///path/to/sock" (or a bare absolute path). tcp:// and ssh:// are refused
    /// (Errc::unsupported): the engine API is root-equivalent and must not leave the machine.
    static Result<EngineAddress> parse(std::string_view text);

    /// The address from the environment: ZEPPELIN_DOCKER_HOST, else DOCKER_HOST, else the first
    /// existing socket of unix:///run/podman/podman.sock and unix:///var/run/docker.sock (the
    /// Podman one when neither exists, so the error message names it).
    static Result<EngineAddress> from_environment();

    /// "unix:///path".
    [[nodiscard]] std::string to_string() const { return "unix://" + socket_path; }
};

}  // namespace zeppelin::runtime
