#include "zeppelin/node/messages.hpp"

#include <nlohmann/json.hpp>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/core/u256.hpp"
#include "zeppelin/eth/ecies.hpp"
#include "zeppelin/market/protocol_v2.hpp"

namespace zeppelin::node::msg {
namespace {

constexpr std::size_t kMaxMessage = 16 * 1024;
constexpr std::string_view kAadTag = "zeppelin/msg/v1";

template <class... F>
struct overloaded : F... {
    using F::operator()...;
};
template <class... F>
overloaded(F...) -> overloaded<F...>;

Result<std::string> text_field(const nlohmann::json& j, const char* name) {
    const auto it = j.find(name);
    if (it == j.end() || !it->is_string())
        return make_error(Errc::invalid_argument, std::string{"message: field '"} + name + "' missing or not a string");
    auto s = it->get<std::string>();
    if (s.empty() || s.size() > kMaxText)
        return make_error(Errc::invalid_argument, std::string{"message: field '"} + name + "' is empty or too long");
    return s;
}

Result<std::uint16_t> port_field(const nlohmann::json& j) {
    const auto it = j.find("port");
    if (it == j.end() || !it->is_number_unsigned() || it->get<std::uint64_t>() == 0 ||
        it->get<std::uint64_t>() > 65535)
        return make_error(Errc::invalid_argument, "message: field 'port' missing or not in 1..65535");
    return static_cast<std::uint16_t>(it->get<std::uint64_t>());
}

}  // namespace

std::string_view type_name(const Payload& p) noexcept {
    return std::visit(overloaded{[](const TransferOffer&) { return std::string_view{"transfer"}; },
                                 [](const ServiceReady&) { return std::string_view{"service"}; },
                                 [](const ImageRejected&) { return std::string_view{"rejected"}; },
                                 [](const SpecReveal&) { return std::string_view{"spec"}; },
                                 [](const VerifierBrief&) { return std::string_view{"brief"}; }},
                      p);
}

std::string encode(const Payload& p) {
    nlohmann::json j = std::visit(
        overloaded{[](const TransferOffer& m) {
                       return nlohmann::json{{"host", m.host}, {"port", m.port}, {"secret", to_hex(m.secret)}, {"logs_port", m.logs_port}};
                   },
                   [](const ServiceReady& m) { return nlohmann::json{{"host", m.host}, {"port", m.port}}; },
                   [](const ImageRejected& m) { return nlohmann::json{{"reason", m.reason}}; },
                   [](const SpecReveal& m) { return nlohmann::json{{"spec", m.spec_json}, {"salt", to_hex(m.salt)}}; },
                   [](const VerifierBrief& m) {
                       return nlohmann::json{{"spec", m.spec_json}, {"salt", to_hex(m.salt)}, {"host", m.host}, {"port", m.port}};
                   }},
        p);
    j["type"] = type_name(p);
    return j.dump();
}

Result<Payload> decode(std::string_view json) {
    if (json.size() > kMaxMessage) return make_error(Errc::limit_exceeded, "message larger than 16 KiB");
    const auto j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return make_error(Errc::invalid_argument, "message is not a JSON object");
    const auto type = ZP_TRY(text_field(j, "type"));
    if (type == "transfer") {
        TransferOffer m;
        m.host = ZP_TRY(text_field(j, "host"));
        m.port = ZP_TRY(port_field(j));
        const auto secret = ZP_TRY(text_field(j, "secret"));
        m.secret = ZP_TRY(fixed_from_hex<32>(secret));
        if (const auto lp = j.find("logs_port"); lp != j.end()) {
            if (!lp->is_number_unsigned() || lp->get<std::uint64_t>() > 65535)
                return make_error(Errc::invalid_argument, "message: field 'logs_port' not in 0..65535");
            m.logs_port = static_cast<std::uint16_t>(lp->get<std::uint64_t>());
        }
        return Payload{std::move(m)};
    }
    if (type == "service") {
        ServiceReady m;
        m.host = ZP_TRY(text_field(j, "host"));
        m.port = ZP_TRY(port_field(j));
        return Payload{std::move(m)};
    }
    if (type == "rejected") {
        auto reason = ZP_TRY(text_field(j, "reason"));
        return Payload{ImageRejected{std::move(reason)}};
    }
    if (type == "spec") {
        SpecReveal m;
        m.spec_json = ZP_TRY(text_field(j, "spec"));
        const auto salt = ZP_TRY(text_field(j, "salt"));
        m.salt = ZP_TRY(fixed_from_hex<32>(salt));
        return Payload{std::move(m)};
    }
    if (type == "brief") {
        VerifierBrief m;
        m.spec_json = ZP_TRY(text_field(j, "spec"));
        const auto salt = ZP_TRY(text_field(j, "salt"));
        m.salt = ZP_TRY(fixed_from_hex<32>(salt));
        m.host = ZP_TRY(text_field(j, "host"));
        m.port = ZP_TRY(port_field(j));
        return Payload{std::move(m)};
    }
    return make_error(Errc::invalid_argument, "message: unknown type '" + type + "'");
}

Bytes associated_data(std::uint64_t agreement_id, const Address& sender, const Address& recipient) {
    Bytes aad(kAadTag.begin(), kAadTag.end());
    const auto id = to_be32(u256{agreement_id});
    aad.insert(aad.end(), id.bytes.begin(), id.bytes.end());
    aad.insert(aad.end(), sender.bytes.begin(), sender.bytes.end());
    aad.insert(aad.end(), recipient.bytes.begin(), recipient.bytes.end());
    return aad;
}

Result<Bytes> seal(const eth::PublicKey& recipient_key, std::uint64_t agreement_id, const Address& sender,
                   const Address& recipient, const Payload& payload) {
    const auto text = encode(payload);
    return eth::ecies::seal(recipient_key, as_view(text), associated_data(agreement_id, sender, recipient));
}

Result<Payload> open(const eth::PrivateKey& me, std::uint64_t agreement_id, const Address& sender,
                     const Address& recipient, ByteView envelope) {
    if (envelope.size() > kMaxMessage + eth::ecies::kOverhead)
        return make_error(Errc::limit_exceeded, "message envelope larger than 16 KiB");
    const auto plain = ZP_TRY(eth::ecies::open(me, envelope, associated_data(agreement_id, sender, recipient)));
    return decode(std::string_view{reinterpret_cast<const char*>(plain.data()), plain.size()});
}

bool matches_commit(std::string_view spec_json, const Hash32& salt, const Hash32& commit) {
    return market::v2::spec_commit(as_view(spec_json), salt) == commit;
}

Result<Bytes> seal_all(std::uint64_t agreement_id, const Address& sender, const std::vector<Sealed>& to) {
    std::vector<Bytes> envelopes;
    envelopes.reserve(to.size());
    for (const auto& s : to)
        envelopes.push_back(ZP_TRY(seal(s.key, agreement_id, sender, s.recipient, s.payload)));
    return market::v2::pack_envelopes(envelopes);
}

}  // namespace zeppelin::node::msg
