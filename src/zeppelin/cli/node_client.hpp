// The CLI's side of the node's local HTTP API: finds a running node (its api.json in the node's
// data directory), sends requests with the API token, and streams long replies (logs).
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "zeppelin/core/result.hpp"

namespace zeppelin::cli {

/// <data dir>/api.json, written by `zeppelin node` when its API is up.
struct NodeEndpoint {
    std::string host;
    std::uint16_t port{0};
    std::string token;
    std::string address;  // the node's account
};

/// The node's data directory: `explicit_dir`, else $ZEPPELIN_NODE_DIR, else <zeppelin home>/node.
Result<std::filesystem::path> node_data_dir(std::string_view explicit_dir = {});
/// Reads <dir>/api.json and the token it points to; Errc::not_found with advice if no node runs there.
Result<NodeEndpoint> find_node(const std::filesystem::path& dir);
/// Writes a file only its owner can read (created 0600, never readable by others on the way),
/// atomically (temporary file + rename).
Result<void> write_private_file(const std::filesystem::path& file, std::string_view text);
/// Writes <dir>/api.json (0600) atomically.
Result<void> write_node_endpoint(const std::filesystem::path& dir, const NodeEndpoint& e);

struct ApiReply {
    unsigned status{0};
    nlohmann::json body;
};

/// One request; non-2xx replies come back as Errc errors carrying the node's message.
Result<nlohmann::json> api_call(const NodeEndpoint& node, std::string_view method, std::string_view target,
                                const nlohmann::json* body = nullptr);
/// A GET whose body is streamed to `sink` as it arrives (until the node ends it or sink returns
/// false). An error answer, or the "Zeppelin-Error" trailer of a stream that failed after its
/// output began, comes back as an error.
Result<void> api_stream(const NodeEndpoint& node, std::string_view target,
                        const std::function<bool(std::string_view)>& sink);

}  // namespace zeppelin::cli
