// Private messages: encoding is strict, and an envelope opens only for its agreement, sender and
// recipient (so a copied or re-posted envelope is useless).
#include "zeppelin/node/messages.hpp"

#include <gtest/gtest.h>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/market/protocol_v2.hpp"

namespace zeppelin::node::msg {
namespace {

eth::PrivateKey key(std::uint8_t n) {
    Bytes secret(32, 0);
    secret[31] = n;
    return eth::PrivateKey::from_bytes(secret).value();
}

TEST(Messages, EveryPayloadRoundTrips) {
    const std::vector<Payload> all{
        TransferOffer{"10.0.0.7", 7001, fixed_from_hex<32>(std::string(64, 'a')).value(), 7002},
        ServiceReady{"worker.example", 32768},
        ImageRejected{"digest mismatch: sha256:..."},
        SpecReveal{R"({"kind":"tcp"})", fixed_from_hex<32>(std::string(64, 'c')).value()},
        VerifierBrief{R"({"kind":"tcp"})", fixed_from_hex<32>(std::string(64, 'd')).value(), "203.0.113.9", 40001},
    };
    for (const auto& p : all) {
        const auto text = encode(p);
        const auto back = decode(text);
        ASSERT_TRUE(back) << text << ": " << back.error().message();
        EXPECT_EQ(*back, p) << text;
    }
}

TEST(Messages, MalformedDocumentsAreRejectedWithTheirReason) {
    const std::vector<std::pair<std::string, std::string>> bad{
        {"[]", "not a JSON object"},
        {"{", "not a JSON object"},
        {R"({"type":"launch"})", "unknown type"},
        {R"({"type":"service","host":"h"})", "'port'"},
        {R"({"type":"service","host":"h","port":0})", "'port'"},
        {R"({"type":"service","host":"h","port":70000})", "'port'"},
        {R"({"type":"service","host":"","port":1})", "'host'"},
        {R"({"type":"transfer","host":"h","port":1,"secret":"0x12"})", ""},
        {R"({"type":"transfer","host":"h","port":1,"secret":")" + std::string(64, 'b') + R"(","logs_port":-1})", "logs_port"},
        {R"({"type":"probe","spec":"{}"})", "unknown type"},  // v1's, gone with it
        {R"({"type":"spec","spec":"{}"})", "'salt'"},
        {R"({"type":"brief","spec":"{}","salt":")" + std::string(64, 'e') + R"("})", "'host'"},
    };
    for (const auto& [json, why] : bad) {
        const auto r = decode(json);
        ASSERT_FALSE(r) << json;
        EXPECT_NE(r.error().message().find(why), std::string::npos) << json << " -> " << r.error().message();
    }
    EXPECT_EQ(decode(std::string(20000, ' ')).error().code(), Errc::limit_exceeded);
}

TEST(Messages, EnvelopeOpensOnlyForItsAgreementSenderAndRecipient) {
    const auto alice = key(1);  // sender
    const auto bob = key(2);    // recipient
    const auto eve = key(3);
    const Payload p = ServiceReady{"127.0.0.1", 8080};
    const auto env = seal(bob.public_key(), 7, alice.address(), bob.address(), p).value();
    EXPECT_EQ(open(bob, 7, alice.address(), bob.address(), env).value(), p);
    // Another agreement, another claimed sender, another recipient key: nothing opens.
    EXPECT_EQ(open(bob, 8, alice.address(), bob.address(), env).error().code(), Errc::auth_failed);
    EXPECT_EQ(open(bob, 7, eve.address(), bob.address(), env).error().code(), Errc::auth_failed);
    EXPECT_FALSE(open(eve, 7, alice.address(), eve.address(), env));
    // A flipped bit anywhere is detected.
    for (std::size_t i = 0; i < env.size(); i += 7) {
        auto tampered = env;
        tampered[i] ^= 0x01;
        EXPECT_FALSE(open(bob, 7, alice.address(), bob.address(), tampered)) << "byte " << i;
    }
    EXPECT_FALSE(open(bob, 7, alice.address(), bob.address(), Bytes(10, 0)));
}

TEST(Messages, AV2MessageCarriesOneSealedEnvelopePerRecipientInBitOrder) {
    // The worker's drawVerifiers: one brief to each of three verifiers; each opens only its own.
    const auto worker = key(1);
    const std::vector<eth::PrivateKey> verifiers{key(4), key(5), key(6)};
    const Hash32 salt = fixed_from_hex<32>(std::string(64, '7')).value();
    const std::string spec = R"({"kind":"http","path":"/health","status":200})";
    std::vector<Sealed> to;
    for (std::size_t i = 0; i < verifiers.size(); ++i)
        to.push_back({verifiers[i].address(), verifiers[i].public_key(),
                      VerifierBrief{spec, salt, "198.51.100.7", static_cast<std::uint16_t>(40000 + i)}});
    const auto packed = seal_all(9, worker.address(), to).value();
    const auto recipients = market::v2::all_verifiers(3);
    for (std::size_t i = 0; i < verifiers.size(); ++i) {
        const auto mine = market::v2::envelope_for(recipients, market::v2::verifier_bit(i), packed).value();
        ASSERT_TRUE(mine.has_value());
        const auto brief = open(verifiers[i], 9, worker.address(), verifiers[i].address(), *mine).value();
        EXPECT_EQ(std::get<VerifierBrief>(brief).port, 40000 + i);
        // A verifier believes the spec only if it opens the agreement's salted commit.
        const auto commit = market::v2::spec_commit(as_view(spec), salt);
        EXPECT_TRUE(matches_commit(std::get<VerifierBrief>(brief).spec_json, salt, commit));
        EXPECT_FALSE(matches_commit(R"({"kind":"tcp"})", salt, commit));
        // Another verifier's envelope does not open with this key.
        const Bytes other =
            market::v2::envelope_for(recipients, market::v2::verifier_bit((i + 1) % 3), packed).value().value_or(Bytes{});
        ASSERT_FALSE(other.empty());
        EXPECT_FALSE(open(verifiers[i], 9, worker.address(), verifiers[i].address(), other));
    }
    // A brief that passes the contract's 1,024 bytes per recipient is refused before sending.
    to[0].payload = VerifierBrief{std::string(1100, 'x'), salt, "h", 1};
    EXPECT_EQ(seal_all(9, worker.address(), to).error().code(), Errc::invalid_argument);
}

TEST(Messages, AssociatedDataIsTagIdSenderRecipient) {
    const auto aad = associated_data(1, key(1).address(), key(2).address());
    ASSERT_EQ(aad.size(), 15U + 32U + 20U + 20U);
    EXPECT_EQ(std::string(aad.begin(), aad.begin() + 15), "zeppelin/msg/v1");
    EXPECT_EQ(aad[15 + 31], 1);
}

}  // namespace
}  // namespace zeppelin::node::msg
