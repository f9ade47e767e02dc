// ABI encoding: value checks against their types, tuple encoding, calldata and log topics.
#include "zeppelin/eth/abi.hpp"

#include <algorithm>

#include "zeppelin/eth/abi_errors.hpp"
#include "zeppelin/eth/keccak.hpp"

namespace zeppelin::eth::abi {
namespace {

using detail::value_error;

// ---- encoding -------------------------------------------------------------------------

void put_word(Bytes& out, const u256& v) {
    auto w = to_be32(v);
    out.insert(out.end(), w.begin(), w.end());
}

void encode_value(const Type& t, const Value& v, Bytes& out);

void encode_tuple_items(std::span<const Type> types, std::span<const Value> values, Bytes& out) {
    std::size_t head = 0;
    for (auto& t : types) head += t.head_size();
    auto base = out.size();
    out.resize(base + head);
    std::size_t head_pos = base;
    for (std::size_t i = 0; i < types.size(); ++i) {
        if (types[i].is_dynamic()) {
            auto w = to_be32(u256{out.size() - base});
            std::copy(w.begin(), w.end(), out.begin() + static_cast<std::ptrdiff_t>(head_pos));
            encode_value(types[i], values[i], out);
            head_pos += 32;
        } else {
            Bytes tmp;
            encode_value(types[i], values[i], tmp);
            std::copy(tmp.begin(), tmp.end(), out.begin() + static_cast<std::ptrdiff_t>(head_pos));
            head_pos += tmp.size();
        }
    }
}

void encode_seq(const Type& elem, std::span<const Value> items, Bytes& out) {
    std::vector<Type> types(items.size(), elem);
    encode_tuple_items(types, items, out);
}

void encode_packed_padded(ByteView data, Bytes& out) {
    put_word(out, u256{data.size()});
    out.insert(out.end(), data.begin(), data.end());
    out.resize(out.size() + (32 - data.size() % 32) % 32, 0);
}

void encode_value(const Type& t, const Value& v, Bytes& out) {
    switch (t.kind) {
        case Kind::uint_:
        case Kind::int_:
        case Kind::boolean: put_word(out, v.number); return;
        case Kind::address:
            out.resize(out.size() + 12, 0);
            out.insert(out.end(), v.data.begin(), v.data.end());
            return;
        case Kind::fixed_bytes:
            out.insert(out.end(), v.data.begin(), v.data.end());
            out.resize(out.size() + 32 - v.data.size(), 0);
            return;
        case Kind::bytes:
        case Kind::string: encode_packed_padded(v.data, out); return;
        case Kind::array:
            put_word(out, u256{v.items.size()});
            encode_seq(t.inner[0], v.items, out);
            return;
        case Kind::fixed_array: encode_seq(t.inner[0], v.items, out); return;
        case Kind::tuple: encode_tuple_items(t.inner, v.items, out); return;
    }
}

Result<void> check_impl(const Type& t, const Value& v, std::string& path, bool ranges) {
    auto fail = [&](std::string what) -> Result<void> {
        return value_error("value" + path + ": " + what + " (expected " + t.canonical() + ")");
    };
    bool kind_ok = t.kind == v.kind;
    if (!kind_ok) return fail("wrong kind of value");
    switch (t.kind) {
        case Kind::uint_:
            if (ranges && t.size < 256 && (v.number >> t.size) != 0) return fail("number too large");
            return {};
        case Kind::int_:
            if (ranges && t.size < 256) {
                u256 high = v.number >> (t.size - 1);
                if (high != 0 && high != ((~u256{0}) >> (t.size - 1))) return fail("number out of range");
            }
            return {};
        case Kind::boolean:
            if (v.number > 1) return fail("bool must be 0 or 1");
            return {};
        case Kind::address:
            if (v.data.size() != 20) return fail("address must be 20 bytes");
            return {};
        case Kind::fixed_bytes:
            if (v.data.size() != t.size) return fail("wrong length");
            return {};
        case Kind::bytes:
        case Kind::string: return {};
        case Kind::array:
        case Kind::fixed_array:
        case Kind::tuple: {
            std::size_t n = t.kind == Kind::tuple ? t.inner.size() : t.kind == Kind::fixed_array ? t.size : v.items.size();
            if (v.items.size() != n)
                return fail("expected " + std::to_string(n) + " elements, got " + std::to_string(v.items.size()));
            for (std::size_t i = 0; i < n; ++i) {
                auto saved = path.size();
                path += "[" + std::to_string(i) + "]";
                ZP_CHECK(check_impl(t.kind == Kind::tuple ? t.inner[i] : t.inner[0], v.items[i], path, ranges));
                path.resize(saved);
            }
            return {};
        }
    }
    return {};
}
}  // namespace

// ---- values ---------------------------------------------------------------------------

Value Value::int_(std::int64_t v, unsigned bits) {
    u256 n = v < 0 ? u256{0} - u256{static_cast<std::uint64_t>(-(v + 1))} - 1 : u256{static_cast<std::uint64_t>(v)};
    return int_raw(n, bits);
}

Result<void> check_value(const Type& type, const Value& value, EncodeOptions options) {
    std::string path;
    return check_impl(type, value, path, options.check_ranges);
}

// ---- encode --------------------------------------------------------------------------

Result<Bytes> encode(std::span<const Type> types, std::span<const Value> values, EncodeOptions options) {
    if (types.size() != values.size())
        return value_error("expected " + std::to_string(types.size()) + " values, got " + std::to_string(values.size()));
    for (std::size_t i = 0; i < types.size(); ++i) {
        auto r = check_value(types[i], values[i], options);
        if (!r) return r.error().wrap("argument " + std::to_string(i));
    }
    Bytes out;
    encode_tuple_items(types, values, out);
    return out;
}

Result<Bytes> encode_single(const Type& type, const Value& value, EncodeOptions options) {
    return encode(std::span<const Type>{&type, 1}, std::span<const Value>{&value, 1}, options);
}

Result<Bytes> encode_call(const Function& fn, std::span<const Value> values) {
    auto types = types_of(fn.inputs);
    auto body = ZP_TRY(encode(types, values));
    auto sel = fn.selector();
    Bytes out(sel.begin(), sel.end());
    out.insert(out.end(), body.begin(), body.end());
    return out;
}
namespace {
// Solidity's encoding of an indexed dynamic value before hashing: values in place, each
// element padded to 32 bytes, no lengths or offsets (docs: "Encoding of Indexed Event Parameters").
void topic_preimage(const Type& t, const Value& v, Bytes& out) {
    switch (t.kind) {
        case Kind::bytes:
        case Kind::string:
            out.insert(out.end(), v.data.begin(), v.data.end());  // padded by the caller when nested
            return;
        case Kind::array:
        case Kind::fixed_array:
            for (auto& item : v.items) {
                auto before = out.size();
                topic_preimage(t.inner[0], item, out);
                if (t.inner[0].kind == Kind::bytes || t.inner[0].kind == Kind::string)
                    out.resize(before + (out.size() - before + 31) / 32 * 32, 0);
            }
            return;
        case Kind::tuple:
            for (std::size_t i = 0; i < t.inner.size(); ++i) {
                auto before = out.size();
                topic_preimage(t.inner[i], v.items[i], out);
                if (t.inner[i].kind == Kind::bytes || t.inner[i].kind == Kind::string)
                    out.resize(before + (out.size() - before + 31) / 32 * 32, 0);
            }
            return;
        default: encode_value(t, v, out); return;
    }
}
}  // namespace

Result<std::vector<Hash32>> encode_topics(const Event& event, std::span<const Value> indexed_values) {
    std::vector<Hash32> out;
    if (!event.anonymous) out.push_back(event.topic0());
    std::size_t k = 0;
    for (auto& p : event.inputs) {
        if (!p.indexed) continue;
        if (k >= indexed_values.size()) return value_error("too few values for the indexed inputs");
        const Value& v = indexed_values[k++];
        ZP_CHECK(check_value(p.type, v));
        Bytes enc;
        bool word_type = !p.type.is_dynamic() && p.type.kind != Kind::tuple && p.type.kind != Kind::fixed_array;
        if (word_type) {
            encode_value(p.type, v, enc);
            out.push_back(fixed_from<32>(enc));
        } else {
            topic_preimage(p.type, v, enc);
            out.push_back(keccak256(ByteView{enc}));
        }
    }
    if (k != indexed_values.size()) return value_error("too many values for the indexed inputs");
    return out;
}
}  // namespace zeppelin::eth::abi
