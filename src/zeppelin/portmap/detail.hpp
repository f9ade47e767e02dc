// Internals of the port-mapping backends that are pure functions, exposed for unit tests.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "zeppelin/core/result.hpp"

namespace zeppelin::portmap::detail {

/// The host of an http URL ("http://192.168.77.1:5000/ctl/IPConn" -> "192.168.77.1").
std::string url_host(std::string_view url);

/// A decimal port 1..65535 (as UPnP answers carry them); nullopt otherwise.
std::optional<std::uint16_t> parse_port(std::string_view text) noexcept;
/// A decimal lease in seconds (UPnP's NewLeaseDuration, 0..2^32-1); nullopt otherwise.
std::optional<std::uint32_t> parse_lease(std::string_view text) noexcept;

/// A libminiupnpc result (negative: the library's own, positive: a UPnP error code) as an
/// Error: `what` is the action ("adding TCP 40000 -> 192.168.77.10:40000").
Error upnp_error(int code, std::string_view what);
/// The category of a libminiupnpc result code.
Errc upnp_errc(int code) noexcept;

/// A libnatpmp result (NATPMP_ERR_*) as an Error.
Error natpmp_error(int code, std::string_view what);
Errc natpmp_errc(int code) noexcept;

}  // namespace zeppelin::portmap::detail
