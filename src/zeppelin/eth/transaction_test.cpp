#include "zeppelin/eth/transaction.hpp"

#include <gtest/gtest.h>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/eth/address.hpp"
#include "zeppelin/eth/keccak.hpp"

namespace zeppelin::eth {
namespace {

Bytes hex(std::string_view s) { return from_hex(s).value(); }
Address addr(std::string_view s) { return parse_address(s).value(); }
u256 dec(std::string_view s) { return parse_u256(s).value(); }

constexpr std::string_view kKey46 = "0x4646464646464646464646464646464646464646464646464646464646464646";
constexpr std::string_view kKey0123 = "0x0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

// The example transaction of EIP-155 (https://eips.ethereum.org/EIPS/eip-155, "Example").
Transaction eip155_example() {
    Transaction tx;
    tx.type = TxType::legacy;
    tx.chain_id = 1;
    tx.nonce = 9;
    tx.gas_price = dec("20000000000");
    tx.gas_limit = 21000;
    tx.to = addr("0x3535353535353535353535353535353535353535");
    tx.value = dec("1000000000000000000");
    return tx;
}

TEST(Transaction, Eip155Example) {
    auto tx = eip155_example();
    EXPECT_EQ(to_hex(tx.signing_payload()),
              "0xec098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a764000080018080");
    EXPECT_EQ(to_hex(tx.signing_hash()), "0xdaf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53");
    auto key = PrivateKey::from_hex(kKey46).value();
    ASSERT_TRUE(sign_transaction(tx, key));
    EXPECT_EQ(from_be(tx.signature->r.view()).value(),
              dec("18515461264373351373200002665853028612451056578545711640558177340181847433846"));
    EXPECT_EQ(from_be(tx.signature->s.view()).value(),
              dec("46948507304638947509940763649030358759909902576025900602547168820602576006531"));
    const std::string signed_tx =
        "0xf86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc"
        "2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a"
        "3b6d83";
    EXPECT_EQ(to_hex(tx.encode().value()), signed_tx);  // v = 37

    auto decoded = decode_transaction(hex(signed_tx)).value();
    EXPECT_EQ(decoded, tx);
    EXPECT_EQ(to_checksum(recover_sender(decoded).value()), "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F");
}

// A real mainnet EIP-1559 transaction:
// https://etherscan.io/tx/0x0ec0b6a2df4d87424e5f6ad2a654e27aaeb7dac20ae9e8385cc09087ad532ee0
// (fields, signature and sender as published with it in alloy's examples and reth's
// recover_signer_eip1559 test). The raw bytes below are our encoding of those fields; that
// keccak256(raw) equals the published hash proves the encoding byte-exact.
constexpr std::string_view kMainnetRaw =
    "0x02f8b0014284"
    "3b9aca00"
    "8504a817c80082ad6294"
    "6069a6c32cf691f5982febae4faf8a6f3ab2f0f680b844"
    "a22cb4650000000000000000000000005eee75727d804a2b13038928d36f8b188945a57a"
    "0000000000000000000000000000000000000000000000000000000000000000c080a0"
    "840cfc572845f5786e702984c2a582528cad4b49b2a10b9db1be7fca90058565a0"
    "25e7109ceb98168d95b09b18bbf6b685130e0562f233877d492b94eee0c5b6d1";

TEST(Transaction, RealMainnetEip1559) {
    auto raw = hex(kMainnetRaw);
    EXPECT_EQ(to_hex(keccak256(raw)), "0x0ec0b6a2df4d87424e5f6ad2a654e27aaeb7dac20ae9e8385cc09087ad532ee0");
    auto tx = decode_transaction(raw).value();
    EXPECT_EQ(tx.type, TxType::dynamic_fee);
    EXPECT_EQ(tx.chain_id, 1u);
    EXPECT_EQ(tx.nonce, 0x42u);
    EXPECT_EQ(tx.gas_limit, 44386u);
    EXPECT_EQ(tx.max_fee_per_gas, u256{0x4a817c800});
    EXPECT_EQ(tx.max_priority_fee_per_gas, u256{0x3b9aca00});
    EXPECT_EQ(tx.to, addr("0x6069a6c32cf691f5982febae4faf8a6f3ab2f0f6"));
    EXPECT_EQ(tx.value, 0);
    EXPECT_EQ(tx.data.size(), 68u);
    EXPECT_EQ(to_hex(tx.hash().value()), "0x0ec0b6a2df4d87424e5f6ad2a654e27aaeb7dac20ae9e8385cc09087ad532ee0");
    EXPECT_EQ(to_checksum(recover_sender(tx).value()), "0xDD6B8b3dC6B7AD97db52F08a275FF4483e024CEa");
    EXPECT_EQ(tx.encode().value(), raw);
}

// Expected raw transactions produced once with cast 1.7.1 (`cast mktx`), see each comment.
struct CastVector {
    const char* what;
    std::string_view key;
    Transaction tx;
    std::string_view raw;
};

std::vector<CastVector> cast_vectors() {
    std::vector<CastVector> v;
    {
        // cast mktx --private-key 0x4646.. --chain 1 --nonce 9 --gas-limit 21000 --gas-price 20gwei
        //   --priority-gas-price 1gwei 0x3535353535353535353535353535353535353535 --value 1ether
        Transaction tx;
        tx.chain_id = 1;
        tx.nonce = 9;
        tx.max_priority_fee_per_gas = dec("1000000000");
        tx.max_fee_per_gas = dec("20000000000");
        tx.gas_limit = 21000;
        tx.to = addr("0x3535353535353535353535353535353535353535");
        tx.value = dec("1000000000000000000");
        v.push_back({"transfer", kKey46, tx,
                     "0x02f8730109843b9aca008504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400"
                     "0080c080a04e87ced8b47d801c979c6baa52bbd78b42c9db2515c9d1f473e06f65d49aaa90a02357671517c59544ebd9"
                     "5012d1988c102292eb570cc840ac9af72bb4c52e5edd"});
        // ... same with calldata 0xdeadbeef, value 1.5ether
        tx.value = dec("1500000000000000000");
        tx.data = hex("0xdeadbeef");
        v.push_back({"call with data", kKey46, tx,
                     "0x02f8770109843b9aca008504a817c8008252089435353535353535353535353535353535353535358814d1120d7b16"
                     "000084deadbeefc001a028bf53aa0824af6d9c9823265070734bef1a07ed716f198f9ba90ebbdfad58efa07027d22aee"
                     "a188c75152092ebbecaf76aaed8dc4aa32f68cb44ce2ec55123cdd"});
    }
    {
        // cast mktx --private-key 0x0123.. --chain 31337 --nonce 0 --gas-limit 100000 --gas-price 2gwei
        //   --priority-gas-price 0 --create 0x6080604052
        Transaction tx;
        tx.chain_id = 31337;
        tx.max_fee_per_gas = dec("2000000000");
        tx.gas_limit = 100000;
        tx.data = hex("0x6080604052");
        v.push_back({"contract creation", kKey0123, tx,
                     "0x02f85a827a6980808477359400830186a08080856080604052c080a06b7255e438d34157afdb244d6c7fcb0ea949fc"
                     "04648e8903604a5457c66179eda070b8ab43119938fa5ad7dda5662ce185234963eea2e6ac633999298c33d52d7e"});
    }
    {
        // cast mktx --private-key 0x0123.. --legacy --chain 1 --nonce 9 --gas-limit 21000 --gas-price 20gwei
        //   0x3535353535353535353535353535353535353535 --value 1ether
        Transaction tx = eip155_example();
        v.push_back({"legacy EIP-155", kKey0123, tx,
                     "0xf86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008026a01373"
                     "17d2b468072744f85584d693c466f03d2ed5fb412cd8c0178d01cfa0d004a011b612456aae3d1465873f6b3a9182ea32"
                     "51c76d36bc83356adc2b84885fe55a"});
    }
    {
        // cast mktx --private-key 0x0123.. --chain 10 --nonce 7 --gas-limit 60000 --gas-price 3gwei
        //   --priority-gas-price 1.5gwei 0x3535353535353535353535353535353535353535 0xa9059cbb --value 12345
        //   --access-list '[{"address":"0x1111111111111111111111111111111111111111",
        //                    "storageKeys":["0x00..01"]}]'
        Transaction tx;
        tx.chain_id = 10;
        tx.nonce = 7;
        tx.max_priority_fee_per_gas = dec("1500000000");
        tx.max_fee_per_gas = dec("3000000000");
        tx.gas_limit = 60000;
        tx.to = addr("0x3535353535353535353535353535353535353535");
        tx.value = 12345;
        tx.data = hex("0xa9059cbb");
        Hash32 one;
        one[31] = 1;
        tx.access_list = {AccessListEntry{addr("0x1111111111111111111111111111111111111111"), {one}}};
        v.push_back({"access list", kKey0123, tx,
                     "0x02f8a90a078459682f0084b2d05e0082ea6094353535353535353535353535353535353535353582303984a9059cbb"
                     "f838f7941111111111111111111111111111111111111111e1a00000000000000000000000000000000000000000000000"
                     "00000000000000000180a04ad78c78f8d51d06315e85e839faf16653482f5d9a03cfc05e8ee5eba8eeabe8a079b21fe0"
                     "369fdeb2818c2d2c294fa9fce50c189da759dcbb26bb6dabb508322e"});
    }
    return v;
}

TEST(Transaction, MatchesCastMktx) {
    for (auto& v : cast_vectors()) {
        SCOPED_TRACE(v.what);
        auto key = PrivateKey::from_hex(v.key).value();
        auto tx = v.tx;
        ASSERT_TRUE(sign_transaction(tx, key));
        EXPECT_EQ(to_hex(tx.encode().value()), v.raw);
        auto decoded = decode_transaction(hex(v.raw)).value();
        EXPECT_EQ(decoded, tx);
        EXPECT_EQ(recover_sender(decoded).value(), key.address());
    }
}

// cast 1.7.1: `cast decode-tx <raw>` of the chain-10 transfer reports this hash and signer.
TEST(Transaction, HashMatchesCastDecodeTx) {
    auto tx = decode_transaction(hex("0x02f8700a078459682f0084b2d05e0082ea60943535353535353535353535353535353535353535"
                                     "82303984a9059cbbc080a0a8c73ea1cd051ae6830b3ace3d3e3020c8f51576388a6070e0cb96a600"
                                     "e16645a03be4b2f5455fa06d50ae97f6f5ed7d74ce552ce9fad253c567d75fb641b92be0"))
                  .value();
    EXPECT_EQ(to_hex(tx.hash().value()), "0x638d110a320d4a6fc8864c72f7da6d4a0cb9e36ed88bf87e0b5dc1f3eb375b3d");
    EXPECT_EQ(to_hex(recover_sender(tx).value()), "0xfcad0b19bb29d4674531d6f115237e16afce377c");
}

TEST(Transaction, PreEip155LegacyRoundTrip) {
    auto tx = eip155_example();
    tx.chain_id.reset();
    auto key = PrivateKey::from_hex(kKey46).value();
    ASSERT_TRUE(sign_transaction(tx, key));
    auto raw = tx.encode().value();
    auto decoded = decode_transaction(raw).value();
    EXPECT_FALSE(decoded.chain_id.has_value());
    EXPECT_EQ(decoded, tx);
    EXPECT_EQ(recover_sender(decoded).value(), key.address());
}

TEST(Transaction, Type1RoundTrip) {
    Transaction tx;
    tx.type = TxType::access_list;
    tx.chain_id = 5;
    tx.nonce = 1;
    tx.gas_price = 7;
    tx.gas_limit = 30000;
    tx.access_list = {AccessListEntry{addr("0x1111111111111111111111111111111111111111"), {}}};
    auto key = PrivateKey::from_hex(kKey46).value();
    ASSERT_TRUE(sign_transaction(tx, key));
    auto raw = tx.encode().value();
    EXPECT_EQ(raw[0], 0x01);
    EXPECT_EQ(decode_transaction(raw).value(), tx);
    EXPECT_EQ(recover_sender(tx).value(), key.address());
}

TEST(Transaction, DecoderIsStrict) {
    auto good = hex(kMainnetRaw);
    auto with_trailing = good;
    with_trailing.push_back(0);
    EXPECT_FALSE(decode_transaction(with_trailing));
    EXPECT_FALSE(decode_transaction(Bytes(good.begin(), good.end() - 1)));
    EXPECT_FALSE(decode_transaction({}));
    EXPECT_EQ(decode_transaction(hex("0x03c0")).error().code(), Errc::unsupported);
    EXPECT_FALSE(decode_transaction(hex("0x80")));
    // yParity 2 instead of 0.
    auto bad_parity = good;
    auto pos = std::string{kMainnetRaw}.find("c080a0840c") / 2 - 1 + 1;  // the 0x80 after c0
    ASSERT_EQ(bad_parity[pos], 0x80);
    bad_parity[pos] = 0x02;
    EXPECT_FALSE(decode_transaction(bad_parity));
    // Legacy with v = 30 is neither pre-155 nor EIP-155.
    auto legacy = eip155_example();
    legacy.signature = Signature{};
    auto raw = legacy.encode().value();
    auto vpos = raw.size() - 3;  // v, then r = 0x80, s = 0x80
    ASSERT_EQ(raw[vpos], 37);
    raw[vpos] = 30;
    EXPECT_FALSE(decode_transaction(raw));
}

TEST(Transaction, RecoverRejectsHighSAndZeroSignature) {
    auto tx = decode_transaction(hex(kMainnetRaw)).value();
    auto high = tx;
    high.signature->s = to_be32(curve_order() - from_be(tx.signature->s.view()).value());
    high.signature->y_parity ^= 1;
    EXPECT_EQ(recover_sender(high).error().code(), Errc::invalid_signature);
    auto zero = tx;
    zero.signature = Signature{};
    EXPECT_EQ(recover_sender(zero).error().code(), Errc::invalid_signature);
    Transaction unsigned_tx;
    EXPECT_FALSE(unsigned_tx.encode());
    EXPECT_EQ(recover_sender_public_key(high).error().code(), Errc::invalid_signature);
    EXPECT_EQ(recover_sender_public_key(unsigned_tx).error().code(), Errc::invalid_signature);
}

TEST(Transaction, RecoverSenderPublicKey) {
    // EIP-155 example: the key is known, so the recovered public key must be its public key.
    const auto key = PrivateKey::from_hex(kKey46).value();
    auto legacy = eip155_example();
    ASSERT_TRUE(sign_transaction(legacy, key));
    const auto pub = recover_sender_public_key(legacy).value();
    EXPECT_EQ(pub, key.public_key());
    EXPECT_EQ(public_key_to_address(pub), recover_sender(legacy).value());
    // A changed field gives another (wrong) key, never an error-free match.
    auto changed = legacy;
    changed.value += 1;
    EXPECT_NE(recover_sender_public_key(changed).value_or(PublicKey{}), key.public_key());

    // The mainnet EIP-1559 transaction: the key hashes to the published sender.
    const auto mainnet = decode_transaction(hex(kMainnetRaw)).value();
    const auto mainnet_pub = recover_sender_public_key(mainnet).value();
    EXPECT_EQ(to_checksum(public_key_to_address(mainnet_pub)), "0xDD6B8b3dC6B7AD97db52F08a275FF4483e024CEa");
    EXPECT_TRUE(parse_public_key(mainnet_pub.view()));  // a point on the curve, usable for ECDH
}

}  // namespace
}  // namespace zeppelin::eth
