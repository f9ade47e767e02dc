#include "zeppelin/runtime/address.hpp"

#include <sys/un.h>

#include <cstdlib>
#include <filesystem>

namespace zeppelin::runtime {

Result<EngineAddress> EngineAddress::parse(std::string_view text) {
    const std::string original{text};
    std::string_view path = text;
    if (text.starts_with("unix://")) {
        path = text.substr(7);
    } else if (const auto scheme = text.find("://"); scheme != std::string_view::npos) {
        return Error{Errc::unsupported, "container engine address \"" + original +
                                            "\" is not a unix socket; only unix:///path is supported"};
    }
    if (path.empty() || path.front() != '/')
        return Error{Errc::invalid_argument,
                     "container engine address \"" + original + "\" must be unix:///absolute/path/to/socket"};
    // sockaddr_un::sun_path holds 108 bytes including the terminating NUL.
    if (path.size() >= sizeof(sockaddr_un::sun_path))
        return Error{Errc::invalid_argument, "container engine socket path is too long (" +
                                                 std::to_string(path.size()) + " bytes, the limit is " +
                                                 std::to_string(sizeof(sockaddr_un::sun_path) - 1) + "): " + original};
    if (path.find('\0') != std::string_view::npos)
        return Error{Errc::invalid_argument, "container engine socket path contains a NUL byte"};
    return EngineAddress{std::string{path}};
}

Result<EngineAddress> EngineAddress::from_environment() {
    for (const char* var : {"ZEPPELIN_DOCKER_HOST", "DOCKER_HOST"}) {
        const char* value = std::getenv(var);  // NOLINT(concurrency-mt-unsafe): read once at start-up
        if (value != nullptr && *value != '\0') {
            auto parsed = parse(value);
            if (!parsed) return parsed.error().wrap(std::string{var});
            return parsed;
        }
    }
    static constexpr std::string_view defaults[] = {"/run/podman/podman.sock", "/var/run/docker.sock"};
    for (const auto path : defaults) {
        std::error_code ec;
        if (std::filesystem::is_socket(std::filesystem::path{path}, ec)) return EngineAddress{std::string{path}};
    }
    return EngineAddress{std::string{defaults[0]}};
}

}  // namespace zeppelin::runtime
