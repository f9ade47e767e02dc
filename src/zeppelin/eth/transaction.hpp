// Ethereum transactions: legacy (pre-EIP-155 and EIP-155 replay-protected), EIP-2930 (type 1)
// and EIP-1559 (type 2). Signing, hashing, raw encoding, strict decoding and sender recovery.
//
// Raw encodings:
//   legacy  rlp([nonce, gasPrice, gasLimit, to, value, data, v, r, s])
//           v = 27 + yParity (pre-155) or chainId * 2 + 35 + yParity (EIP-155)
//   type 1  0x01 || rlp([chainId, nonce, gasPrice, gasLimit, to, value, data, accessList, yParity, r, s])
//   type 2  0x02 || rlp([chainId, nonce, maxPriorityFeePerGas, maxFeePerGas, gasLimit, to, value,
//                        data, accessList, yParity, r, s])
// The decoder is strict: it accepts exactly what the encoder produces (canonical RLP, no
// trailing bytes), so decode then encode gives back the input (fuzz/transaction_fuzz.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"
#include "zeppelin/core/u256.hpp"
#include "zeppelin/eth/secp256k1.hpp"

namespace zeppelin::eth {

enum class TxType : std::uint8_t {
    legacy = 0,
    access_list = 1,  // EIP-2930
    dynamic_fee = 2,  // EIP-1559
};

struct AccessListEntry {
    Address address;
    std::vector<Hash32> storage_keys;
    bool operator==(const AccessListEntry&) const = default;
};
using AccessList = std::vector<AccessListEntry>;

struct Transaction {
    TxType type{TxType::dynamic_fee};
    /// Absent only for pre-EIP-155 legacy transactions (no replay protection).
    std::optional<std::uint64_t> chain_id;
    std::uint64_t nonce{0};
    u256 gas_price{0};                 // legacy and type 1
    u256 max_priority_fee_per_gas{0};  // type 2
    u256 max_fee_per_gas{0};           // type 2
    std::uint64_t gas_limit{0};
    std::optional<Address> to;  // absent: contract creation
    u256 value{0};
    Bytes data;
    AccessList access_list;  // types 1 and 2
    std::optional<Signature> signature;

    /// The bytes whose keccak256 is signed.
    [[nodiscard]] Bytes signing_payload() const;
    [[nodiscard]] Hash32 signing_hash() const;

    /// The raw transaction (type byte || rlp for typed ones). Requires a signature.
    [[nodiscard]] Result<Bytes> encode() const;
    /// keccak256 of the raw transaction. Requires a signature.
    [[nodiscard]] Result<Hash32> hash() const;

    bool operator==(const Transaction&) const = default;
};

/// Signs `tx` in place with `key` (sets tx.signature).
Result<void> sign_transaction(Transaction& tx, const PrivateKey& key);

/// Decodes a raw signed transaction, strictly.
Result<Transaction> decode_transaction(ByteView raw);

/// Recovers the sender. Rejects signatures Ethereum rejects (r or s zero or out of range,
/// s above n/2 per EIP-2).
Result<Address> recover_sender(const Transaction& tx);
/// The sender's secp256k1 public key, recovered from the signature over signing_hash() (same
/// checks as recover_sender). Lets a peer learn an account's encryption key from any
/// transaction the account signed, with no extra message.
Result<PublicKey> recover_sender_public_key(const Transaction& tx);

/// Access list RLP: [[address, [key, ...]], ...].
void append_access_list(Bytes& out, const AccessList& list);
Result<AccessList> read_access_list(ByteView list_payload);

}  // namespace zeppelin::eth
