#include "zeppelin/node/amounts.hpp"

#include "zeppelin/core/units.hpp"

namespace zeppelin::node {

namespace {
constexpr std::size_t kMaxAmounts = 1000;

nlohmann::json amount_json(const u256& wei) { return nlohmann::json{{"wei", to_dec(wei)}, {"text", format_amount(wei)}}; }
}  // namespace

void put_amount(nlohmann::json& j, const std::string& key, const u256& wei) {
    j[key] = to_dec(wei);
    j[key + "_text"] = format_amount(wei);
}

Result<nlohmann::json> amounts_json(std::string_view list) {
    auto out = nlohmann::json{{"amounts", nlohmann::json::array()}};
    u256 total = 0;
    std::size_t count = 0;
    while (!list.empty()) {
        const auto comma = list.find(',');
        const auto item = list.substr(0, comma);
        list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
        if (++count > kMaxAmounts) return make_error(Errc::invalid_argument, "'wei' lists more than 1000 amounts");
        if (item.empty() || item.size() > 78 || item.find_first_not_of("0123456789") != std::string_view::npos)
            return make_error(Errc::invalid_argument, "'wei' must list whole numbers of wei separated by commas, not '" +
                                                          std::string{item.substr(0, 80)} + "'");
        const auto wei = ZP_TRY(parse_u256(item));
        total = ZP_TRY(checked_add(total, wei));
        out["amounts"].push_back(amount_json(wei));
    }
    out["total"] = amount_json(total);
    return out;
}

}  // namespace zeppelin::node
