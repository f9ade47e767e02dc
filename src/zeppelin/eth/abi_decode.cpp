// ABI decoding: bounds-checked tuple decoding (strict or lenient), calldata, return data,
// custom errors, event logs and Solidity's builtin Error(string) / Panic(uint256) reverts.
#include "zeppelin/eth/abi.hpp"

#include <algorithm>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/eth/abi_errors.hpp"

namespace zeppelin::eth::abi {
namespace {

using detail::decode_error_;

// ---- decoding -------------------------------------------------------------------------

/// A position inside the buffer of the tuple being decoded. Offsets read from heads are
/// relative to `base` (the start of the enclosing tuple).
struct Cursor {
    ByteView buf;  // the enclosing tuple's encoding (from its start to the end of the input)
    std::size_t pos{0};

    std::size_t remaining() const { return pos <= buf.size() ? buf.size() - pos : 0; }
};

class Decoder {
public:
    explicit Decoder(const DecodeOptions& o) : opt_{o} {}

    Result<Value> value(const Type& t, Cursor& c) {
        if (++count_ > opt_.max_values)
            return decode_error_("ABI data expands to more than " + std::to_string(opt_.max_values) + " values");
        switch (t.kind) {
            case Kind::uint_:
            case Kind::int_:
            case Kind::address:
            case Kind::boolean:
            case Kind::fixed_bytes: {
                auto w = ZP_TRY(word(c));
                return word_value(t, w);
            }
            case Kind::bytes:
            case Kind::string: {
                auto child = ZP_TRY(indirection(c));
                auto len = ZP_TRY(offset_word(child, "length"));
                if (len > child.remaining())
                    return decode_error_("bytes length " + std::to_string(len) + " runs past the end of the data");
                auto data = child.buf.subspan(child.pos, len);
                if (opt_.strict) {
                    auto padded = len + (32 - len % 32) % 32;
                    if (padded > child.remaining()) return decode_error_("bytes padding missing");
                    for (std::size_t i = len; i < padded; ++i)
                        if (child.buf[child.pos + i] != 0) return decode_error_("non-zero bytes padding");
                }
                Value v = t.kind == Kind::bytes ? Value::bytes(data) : Value{Kind::string, 0, 0, to_bytes(data), {}};
                return v;
            }
            case Kind::array: {
                auto child = ZP_TRY(indirection(c));
                auto len = ZP_TRY(offset_word(child, "array length"));
                Value out = Value::array({});
                if (len == 0) return out;
                auto min = min_words(t.inner[0]);
                if (min == 0) return out;
                Cursor elems{child.buf.subspan(child.pos), 0};
                if (len > elems.remaining() / 32 / min)
                    return decode_error_("array length " + std::to_string(len) + " exceeds the data");
                out.items.reserve(len);
                for (std::size_t i = 0; i < len; ++i) out.items.push_back(ZP_TRY(value(t.inner[0], elems)));
                return out;
            }
            case Kind::fixed_array:
            case Kind::tuple: {
                bool dynamic = t.is_dynamic();
                Cursor child = dynamic ? ZP_TRY(indirection(c)) : Cursor{c.buf.subspan(c.pos), 0};
                Value out = t.kind == Kind::tuple ? Value::tuple({}) : Value::fixed_array({});
                std::size_t n = t.kind == Kind::tuple ? t.inner.size() : t.size;
                out.items.reserve(std::min<std::size_t>(n, 4096));
                for (std::size_t i = 0; i < n; ++i) {
                    const Type& et = t.kind == Kind::tuple ? t.inner[i] : t.inner[0];
                    out.items.push_back(ZP_TRY(value(et, child)));
                }
                if (t.kind == Kind::fixed_array) out.size = static_cast<unsigned>(n);
                if (!dynamic) c.pos += child.pos;
                return out;
            }
        }
        return decode_error_("unknown type");
    }

private:
    static std::size_t min_words(const Type& t) {
        switch (t.kind) {
            case Kind::fixed_array: return t.size * min_words(t.inner[0]);
            case Kind::tuple: {
                std::size_t s = 0;
                for (auto& c : t.inner) s += min_words(c);
                return s;
            }
            default: return 1;
        }
    }

    static Result<ByteView> word(Cursor& c) {
        if (c.remaining() < 32) return decode_error_("ABI data too short (buffer overrun)");
        auto w = c.buf.subspan(c.pos, 32);
        c.pos += 32;
        return w;
    }

    /// A word used as an offset or length: must fit in 64 bits (the top 24 bytes zero).
    static Result<std::size_t> offset_word(Cursor& c, const char* what) {
        auto w = ZP_TRY(word(c));
        for (std::size_t i = 0; i < 24; ++i)
            if (w[i] != 0) return decode_error_(std::string{what} + " " + to_hex(w) + " is too large");
        std::uint64_t v = 0;
        for (std::size_t i = 24; i < 32; ++i) v = (v << 8) | w[i];
        if (v > static_cast<std::uint64_t>(SIZE_MAX)) return decode_error_(std::string{what} + " is too large");
        return static_cast<std::size_t>(v);
    }

    static Result<Cursor> indirection(Cursor& c) {
        auto off = ZP_TRY(offset_word(c, "offset"));
        if (off > c.buf.size())
            return decode_error_("offset " + std::to_string(off) + " points past the end of the data");
        return Cursor{c.buf.subspan(off), 0};
    }

    Result<Value> word_value(const Type& t, ByteView w) const {
        auto n = ZP_TRY(from_be(w));
        auto zero = [&](std::size_t from, std::size_t to) {
            for (std::size_t i = from; i < to; ++i)
                if (w[i] != 0) return false;
            return true;
        };
        switch (t.kind) {
            case Kind::uint_:
                if (opt_.strict && t.size < 256 && (n >> t.size) != 0)
                    return decode_error_("value does not fit uint" + std::to_string(t.size) + " (dirty high bits)");
                return Value::uint_(n, t.size);
            case Kind::int_:
                if (opt_.strict && t.size < 256) {
                    u256 high = n >> (t.size - 1);
                    u256 ones = (~u256{0}) >> (t.size - 1);
                    if (high != 0 && high != ones)
                        return decode_error_("value is not a sign-extended int" + std::to_string(t.size));
                }
                return Value::int_raw(n, t.size);
            case Kind::boolean:
                if (opt_.strict && n > 1) return decode_error_("bool word is neither 0 nor 1");
                return Value::boolean(n != 0);
            case Kind::address:
                if (opt_.strict && !zero(0, 12)) return decode_error_("address word has dirty high bytes");
                return Value::address(fixed_from<20>(w.subspan(12)));
            case Kind::fixed_bytes:
                if (opt_.strict && !zero(t.size, 32))
                    return decode_error_("bytes" + std::to_string(t.size) + " word has dirty low bytes");
                return Value::fixed_bytes(w.subspan(0, t.size));
            default: return decode_error_("not a word type");
        }
    }

    const DecodeOptions& opt_;
    std::size_t count_{0};
};

}  // namespace


Result<std::vector<Value>> decode(std::span<const Type> types, ByteView data, DecodeOptions options) {
    Decoder d{options};
    Cursor c{data, 0};
    std::vector<Value> out;
    out.reserve(types.size());
    for (auto& t : types) out.push_back(ZP_TRY(d.value(t, c)));
    return out;
}

Result<std::vector<Value>> decode_call(const Function& fn, ByteView calldata, DecodeOptions options) {
    auto sel = fn.selector();
    if (calldata.size() < 4 || !std::equal(sel.begin(), sel.end(), calldata.begin()))
        return decode_error_("calldata does not start with the selector of " + fn.signature());
    auto types = types_of(fn.inputs);
    return decode(types, calldata.subspan(4), options);
}

Result<std::vector<Value>> decode_output(const Function& fn, ByteView data, DecodeOptions options) {
    auto types = types_of(fn.outputs);
    return decode(types, data, options);
}

Result<std::vector<Value>> decode_error(const ErrorDef& error, ByteView data, DecodeOptions options) {
    auto sel = error.selector();
    if (data.size() < 4 || !std::equal(sel.begin(), sel.end(), data.begin()))
        return decode_error_("data does not start with the selector of " + error.signature());
    auto types = types_of(error.inputs);
    return decode(types, data.subspan(4), options);
}

Result<DecodedLog> decode_log(const Event& event, std::span<const Hash32> topics, ByteView data,
                              DecodeOptions options) {
    std::size_t t = 0;
    if (!event.anonymous) {
        if (topics.empty() || topics[0] != event.topic0())
            return decode_error_("log's first topic is not the topic of " + event.signature());
        t = 1;
    }
    std::size_t n_indexed = 0;
    std::vector<Type> body_types;
    for (auto& p : event.inputs) {
        if (p.indexed) ++n_indexed;
        else body_types.push_back(p.type);
    }
    if (topics.size() != t + n_indexed)
        return decode_error_("log has " + std::to_string(topics.size()) + " topics, event " + event.signature() +
                             " needs " + std::to_string(t + n_indexed));
    auto body = ZP_TRY(decode(body_types, data, options));
    DecodedLog out;
    std::size_t b = 0;
    for (auto& p : event.inputs) {
        if (!p.indexed) {
            out.values.push_back(std::move(body[b++]));
            out.hashed.push_back(false);
            continue;
        }
        const Hash32& topic = topics[t++];
        bool word_type = !p.type.is_dynamic() && p.type.kind != Kind::tuple && p.type.kind != Kind::fixed_array;
        if (word_type) {
            Decoder d{options};
            Cursor c{topic.view(), 0};
            out.values.push_back(ZP_TRY(d.value(p.type, c)));
            out.hashed.push_back(false);
        } else {
            out.values.push_back(Value::fixed_bytes(topic.view()));
            out.hashed.push_back(true);
        }
    }
    return out;
}


std::optional<std::string> decode_builtin_revert(ByteView data) {
    static const Function error_fn{"Error", {{"", Type::string(), false}}, {}};
    static const Function panic_fn{"Panic", {{"", Type::uint_(), false}}, {}};
    if (auto v = decode_call(error_fn, data, {.strict = false})) return std::string{(*v)[0].as_string()};
    if (auto v = decode_call(panic_fn, data, {.strict = false})) {
        const u256& code = (*v)[0].number;
        std::string what;
        if (code == 0x01) what = "assertion failed";
        else if (code == 0x11) what = "arithmetic overflow or underflow";
        else if (code == 0x12) what = "division or modulo by zero";
        else if (code == 0x21) what = "invalid enum value";
        else if (code == 0x22) what = "invalid storage byte array";
        else if (code == 0x31) what = "pop on empty array";
        else if (code == 0x32) what = "array index out of bounds";
        else if (code == 0x41) what = "out of memory";
        else if (code == 0x51) what = "call to invalid internal function";
        else what = "unknown panic code";
        return "panic " + to_hex_quantity(code) + " (" + what + ")";
    }
    return std::nullopt;
}

}  // namespace zeppelin::eth::abi
