// Amounts in the API's answers: exact wei for machines, and the same amount for people from the
// one formatter of amounts (core/units.hpp: format_amount), which the CLI prints with too, so that
// the dashboard shows what `zeppelin` shows ("594 gwei", "9.9993 ETH"), never full wei digits.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "zeppelin/core/result.hpp"
#include "zeppelin/core/u256.hpp"

namespace zeppelin::node {

/// Sets j[key] to the exact wei (a decimal string: the machine field, unchanged) and
/// j[key + "_text"] to the readable amount ("594 gwei").
void put_amount(nlohmann::json& j, const std::string& key, const u256& wei);

/// GET /api/amounts?wei=A,B,...: each amount and their exact sum, formatted, for what the
/// dashboard adds up itself (the escrow of the open agreements, a worker's earnings):
/// {"amounts": [{"wei": "A", "text": "..."}, ...], "total": {"wei": "A+B+...", "text": "..."}}.
/// At most 1000 whole numbers of wei; anything else is refused in words.
Result<nlohmann::json> amounts_json(std::string_view comma_separated_wei);

}  // namespace zeppelin::node
