#include "zeppelin/eth/transaction.hpp"

#include <string>

#include "zeppelin/eth/keccak.hpp"
#include "zeppelin/eth/rlp.hpp"

namespace zeppelin::eth {
namespace {

Error tx_error(std::string msg) { return Error{Errc::invalid_transaction, "transaction: " + std::move(msg)}; }

void append_to(Bytes& out, const std::optional<Address>& to) {
    if (to) rlp::append_string(out, to->view());
    else rlp::append_string(out, {});
}

void append_signature(Bytes& out, const Signature& sig) {
    rlp::append_uint(out, sig.y_parity);
    rlp::append_uint(out, from_be(sig.r.view()).value_or(u256{0}));
    rlp::append_uint(out, from_be(sig.s.view()).value_or(u256{0}));
}

// Fields shared by the unsigned and signed forms, without the list header.
Bytes typed_fields(const Transaction& tx) {
    Bytes p;
    rlp::append_uint(p, tx.chain_id.value_or(0));
    rlp::append_uint(p, tx.nonce);
    if (tx.type == TxType::dynamic_fee) {
        rlp::append_uint(p, tx.max_priority_fee_per_gas);
        rlp::append_uint(p, tx.max_fee_per_gas);
    } else {
        rlp::append_uint(p, tx.gas_price);
    }
    rlp::append_uint(p, tx.gas_limit);
    append_to(p, tx.to);
    rlp::append_uint(p, tx.value);
    rlp::append_string(p, tx.data);
    append_access_list(p, tx.access_list);
    return p;
}

Bytes legacy_fields(const Transaction& tx) {
    Bytes p;
    rlp::append_uint(p, tx.nonce);
    rlp::append_uint(p, tx.gas_price);
    rlp::append_uint(p, tx.gas_limit);
    append_to(p, tx.to);
    rlp::append_uint(p, tx.value);
    rlp::append_string(p, tx.data);
    return p;
}

Bytes with_type(TxType type, ByteView list) {
    Bytes out;
    out.reserve(list.size() + 1);
    out.push_back(static_cast<std::uint8_t>(type));
    out.insert(out.end(), list.begin(), list.end());
    return out;
}

Result<std::optional<Address>> read_to(rlp::Reader& r) {
    auto s = ZP_TRY(r.read_string());
    if (s.empty()) return std::optional<Address>{};
    if (s.size() != 20) return tx_error("recipient must be 20 bytes or empty, got " + std::to_string(s.size()));
    return std::optional<Address>{fixed_from<20>(s)};
}

Result<Hash32> read_word(rlp::Reader& r) {
    auto v = ZP_TRY(r.read_uint());
    return to_be32(v);
}

Result<Transaction> decode_typed(TxType type, ByteView body) {
    rlp::Reader outer{body};
    auto fields = ZP_TRY(outer.read_list());
    if (!outer.empty()) return tx_error("trailing bytes after the transaction");
    Transaction tx;
    tx.type = type;
    tx.chain_id = ZP_TRY(fields.read_u64());
    tx.nonce = ZP_TRY(fields.read_u64());
    if (type == TxType::dynamic_fee) {
        tx.max_priority_fee_per_gas = ZP_TRY(fields.read_uint());
        tx.max_fee_per_gas = ZP_TRY(fields.read_uint());
    } else {
        tx.gas_price = ZP_TRY(fields.read_uint());
    }
    tx.gas_limit = ZP_TRY(fields.read_u64());
    tx.to = ZP_TRY(read_to(fields));
    tx.value = ZP_TRY(fields.read_uint());
    tx.data = to_bytes(ZP_TRY(fields.read_string()));
    auto al = ZP_TRY(fields.read_list());
    tx.access_list = ZP_TRY(read_access_list(al.remaining()));
    Signature sig;
    auto parity = ZP_TRY(fields.read_uint());
    if (parity > 1) return tx_error("signature yParity must be 0 or 1");
    sig.y_parity = static_cast<std::uint8_t>(parity);
    sig.r = ZP_TRY(read_word(fields));
    sig.s = ZP_TRY(read_word(fields));
    if (!fields.empty()) return tx_error("too many fields in a type " + std::to_string(int(type)) + " transaction");
    tx.signature = sig;
    return tx;
}

Result<Transaction> decode_legacy(ByteView raw) {
    rlp::Reader outer{raw};
    auto fields = ZP_TRY(outer.read_list());
    if (!outer.empty()) return tx_error("trailing bytes after the transaction");
    Transaction tx;
    tx.type = TxType::legacy;
    tx.nonce = ZP_TRY(fields.read_u64());
    tx.gas_price = ZP_TRY(fields.read_uint());
    tx.gas_limit = ZP_TRY(fields.read_u64());
    tx.to = ZP_TRY(read_to(fields));
    tx.value = ZP_TRY(fields.read_uint());
    tx.data = to_bytes(ZP_TRY(fields.read_string()));
    auto v = ZP_TRY(fields.read_uint());
    Signature sig;
    sig.r = ZP_TRY(read_word(fields));
    sig.s = ZP_TRY(read_word(fields));
    if (!fields.empty()) return tx_error("too many fields in a legacy transaction");
    if (v == 27 || v == 28) {
        sig.y_parity = static_cast<std::uint8_t>(v - 27);
    } else if (v >= 35) {
        const u256 id = (v - 35) / 2;
        if (id > std::numeric_limits<std::uint64_t>::max()) return tx_error("chain id does not fit in 64 bits");
        tx.chain_id = static_cast<std::uint64_t>(id);
        sig.y_parity = static_cast<std::uint8_t>((v - 35) % 2);
    } else {
        return tx_error("legacy signature v must be 27, 28 or chainId * 2 + 35/36, got " + to_dec(v));
    }
    tx.signature = sig;
    return tx;
}

}  // namespace

void append_access_list(Bytes& out, const AccessList& list) {
    Bytes payload;
    for (const auto& entry : list) {
        Bytes keys;
        for (const auto& k : entry.storage_keys) rlp::append_string(keys, k.view());
        Bytes item;
        rlp::append_string(item, entry.address.view());
        rlp::append_list_header(item, keys.size());
        item.insert(item.end(), keys.begin(), keys.end());
        rlp::append_list_header(payload, item.size());
        payload.insert(payload.end(), item.begin(), item.end());
    }
    rlp::append_list_header(out, payload.size());
    out.insert(out.end(), payload.begin(), payload.end());
}

Result<AccessList> read_access_list(ByteView list_payload) {
    AccessList list;
    rlp::Reader r{list_payload};
    while (!r.empty()) {
        auto entry = ZP_TRY(r.read_list());
        AccessListEntry e;
        auto addr = ZP_TRY(entry.read_string());
        if (addr.size() != 20) return tx_error("access list address must be 20 bytes, got " + std::to_string(addr.size()));
        e.address = fixed_from<20>(addr);
        auto keys = ZP_TRY(entry.read_list());
        while (!keys.empty()) {
            auto k = ZP_TRY(keys.read_string());
            if (k.size() != 32) return tx_error("access list storage key must be 32 bytes, got " + std::to_string(k.size()));
            e.storage_keys.push_back(fixed_from<32>(k));
        }
        if (!entry.empty()) return tx_error("access list entry has more than two fields");
        list.push_back(std::move(e));
    }
    return list;
}

Bytes Transaction::signing_payload() const {
    if (type == TxType::legacy) {
        Bytes p = legacy_fields(*this);
        if (chain_id) {  // EIP-155: [..., chainId, 0, 0]
            rlp::append_uint(p, *chain_id);
            rlp::append_uint(p, 0);
            rlp::append_uint(p, 0);
        }
        return rlp::encode_list(p);
    }
    return with_type(type, rlp::encode_list(typed_fields(*this)));
}

Hash32 Transaction::signing_hash() const { return keccak256(signing_payload()); }

Result<Bytes> Transaction::encode() const {
    if (!signature) return tx_error("cannot encode an unsigned transaction");
    if (type == TxType::legacy) {
        Bytes p = legacy_fields(*this);
        u256 v = chain_id ? u256{*chain_id} * 2 + 35 + signature->y_parity : u256{27u + signature->y_parity};
        rlp::append_uint(p, v);
        rlp::append_uint(p, from_be(signature->r.view()).value_or(u256{0}));
        rlp::append_uint(p, from_be(signature->s.view()).value_or(u256{0}));
        return rlp::encode_list(p);
    }
    if (type != TxType::access_list && type != TxType::dynamic_fee)
        return Error{Errc::unsupported, "transaction type " + std::to_string(int(type)) + " is not supported"};
    Bytes p = typed_fields(*this);
    append_signature(p, *signature);
    return with_type(type, rlp::encode_list(p));
}

Result<Hash32> Transaction::hash() const { return keccak256(ZP_TRY(encode())); }

Result<void> sign_transaction(Transaction& tx, const PrivateKey& key) {
    if (tx.type != TxType::legacy && !tx.chain_id) return tx_error("typed transactions need a chain id");
    tx.signature = ZP_TRY(key.sign(tx.signing_hash()));
    return {};
}

Result<Transaction> decode_transaction(ByteView raw) {
    if (raw.empty()) return tx_error("empty input");
    const std::uint8_t first = raw[0];
    if (first >= 0xc0) return decode_legacy(raw);
    if (first == 0x01 || first == 0x02) {
        auto r = decode_typed(static_cast<TxType>(first), raw.subspan(1));
        if (!r) return r.error().wrap("type " + std::to_string(first) + " transaction");
        return r;
    }
    if (first <= 0x7f)
        return Error{Errc::unsupported, "transaction type " + std::to_string(first) + " is not supported"};
    return tx_error("input is neither a typed transaction nor an RLP list");
}

Result<PublicKey> recover_sender_public_key(const Transaction& tx) {
    if (!tx.signature) return Error{Errc::invalid_signature, "transaction is not signed"};
    if (!tx.signature->is_canonical())
        return Error{Errc::invalid_signature,
                     "transaction signature is invalid (r or s out of range, or s above n/2 as EIP-2 forbids)"};
    return recover_public_key(tx.signing_hash(), *tx.signature);
}

Result<Address> recover_sender(const Transaction& tx) {
    return public_key_to_address(ZP_TRY(recover_sender_public_key(tx)));
}

}  // namespace zeppelin::eth
