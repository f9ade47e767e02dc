#include "zeppelin/eth/rlp.hpp"

#include <string>

namespace zeppelin::eth::rlp {
namespace {

void append_length(Bytes& out, std::size_t length, std::uint8_t short_base, std::uint8_t long_base) {
    if (length <= 55) {
        out.push_back(static_cast<std::uint8_t>(short_base + length));
        return;
    }
    std::uint8_t be[8];
    int n = 0;
    for (std::size_t l = length; l != 0; l >>= 8) be[n++] = static_cast<std::uint8_t>(l & 0xff);
    out.push_back(static_cast<std::uint8_t>(long_base + n));
    while (n > 0) out.push_back(be[--n]);
}

Error err(Errc code, std::string msg) { return Error{code, "rlp: " + std::move(msg)}; }

}  // namespace

void append_string(Bytes& out, ByteView s) {
    if (s.size() == 1 && s[0] < 0x80) {
        out.push_back(s[0]);
        return;
    }
    append_length(out, s.size(), 0x80, 0xb7);
    out.insert(out.end(), s.begin(), s.end());
}

void append_uint(Bytes& out, const u256& v) { append_string(out, to_be_minimal(v)); }

void append_list_header(Bytes& out, std::size_t payload_length) { append_length(out, payload_length, 0xc0, 0xf7); }

void append_item(Bytes& out, const Item& item) {
    if (!item.is_list) {
        append_string(out, item.str);
        return;
    }
    Bytes payload;
    for (const auto& child : item.items) append_item(payload, child);
    append_list_header(out, payload.size());
    out.insert(out.end(), payload.begin(), payload.end());
}

Bytes encode(const Item& item) {
    Bytes out;
    append_item(out, item);
    return out;
}

Bytes encode_string(ByteView s) {
    Bytes out;
    append_string(out, s);
    return out;
}

Bytes encode_uint(const u256& v) {
    Bytes out;
    append_uint(out, v);
    return out;
}

Bytes encode_list(ByteView payload) {
    Bytes out;
    append_list_header(out, payload.size());
    out.insert(out.end(), payload.begin(), payload.end());
    return out;
}

Result<Header> decode_header(ByteView in) {
    if (in.empty()) return err(Errc::rlp_input_too_short, "input is empty");
    const std::uint8_t b = in[0];
    Header h;
    if (b < 0x80) {  // a single byte is its own encoding
        h.header_length = 0;
        h.payload_length = 1;
        return h;
    }
    if (b <= 0xbf) {
        h.is_list = false;
    } else {
        h.is_list = true;
    }
    const std::uint8_t short_base = h.is_list ? 0xc0 : 0x80;
    const std::uint8_t long_base = h.is_list ? 0xf7 : 0xb7;
    if (b <= long_base) {
        h.header_length = 1;
        h.payload_length = static_cast<std::size_t>(b - short_base);
        if (!h.is_list && h.payload_length == 1) {
            if (in.size() < 2) return err(Errc::rlp_input_too_short, "string of length 1 is truncated");
            if (in[1] < 0x80)
                return err(Errc::rlp_non_canonical_size, "single byte below 0x80 must be encoded as itself");
        }
    } else {
        const std::size_t len_of_len = static_cast<std::size_t>(b - long_base);
        if (in.size() < 1 + len_of_len) return err(Errc::rlp_input_too_short, "length prefix is truncated");
        if (len_of_len > 8) return err(Errc::rlp_overflow, "length does not fit in 64 bits");
        if (in[1] == 0) return err(Errc::rlp_leading_zero, "length prefix has a leading zero");
        std::uint64_t len = 0;
        for (std::size_t i = 0; i < len_of_len; ++i) len = (len << 8) | in[1 + i];
        if (len <= 55) return err(Errc::rlp_non_canonical_size, "long form used for a length of 55 or less");
        h.header_length = 1 + len_of_len;
        h.payload_length = static_cast<std::size_t>(len);
    }
    if (h.payload_length > in.size() - h.header_length)
        return err(Errc::rlp_input_too_short, "payload of " + std::to_string(h.payload_length) + " bytes but only " +
                                                   std::to_string(in.size() - h.header_length) + " remain");
    return h;
}

Result<ByteView> Reader::read_raw() {
    auto h = ZP_TRY(decode_header(in_));
    auto whole = in_.first(h.header_length + h.payload_length);
    in_ = in_.subspan(whole.size());
    return whole;
}

Result<ByteView> Reader::read_string() {
    auto h = ZP_TRY(decode_header(in_));
    if (h.is_list) return err(Errc::rlp_unexpected_list, "expected a string, found a list");
    auto payload = in_.subspan(h.header_length, h.payload_length);
    in_ = in_.subspan(h.header_length + h.payload_length);
    return payload;
}

Result<u256> Reader::read_uint() {
    auto s = ZP_TRY(read_string());
    if (!s.empty() && s[0] == 0) return err(Errc::rlp_leading_zero, "integer has a leading zero byte");
    if (s.size() > 32) return err(Errc::rlp_overflow, "integer longer than 32 bytes");
    return from_be(s);
}

Result<std::uint64_t> Reader::read_u64() {
    auto v = ZP_TRY(read_uint());
    if (v > std::numeric_limits<std::uint64_t>::max()) return err(Errc::rlp_overflow, "integer does not fit in 64 bits");
    return static_cast<std::uint64_t>(v);
}

Result<Reader> Reader::read_list() {
    auto h = ZP_TRY(decode_header(in_));
    if (!h.is_list) return err(Errc::rlp_unexpected_string, "expected a list, found a string");
    Reader inner{in_.subspan(h.header_length, h.payload_length)};
    in_ = in_.subspan(h.header_length + h.payload_length);
    return inner;
}

Result<Item> Reader::read_item(std::size_t depth) {
    if (depth > kMaxDepth) return err(Errc::rlp_overflow, "lists nested deeper than " + std::to_string(kMaxDepth));
    auto h = ZP_TRY(decode_header(in_));
    if (!h.is_list) return Item::string(to_bytes(ZP_TRY(read_string())));
    auto inner = ZP_TRY(read_list());
    Item item = Item::list({});
    while (!inner.empty()) item.items.push_back(ZP_TRY(inner.read_item(depth + 1)));
    return item;
}

Result<Item> decode(ByteView in) {
    Reader r{in};
    auto item = ZP_TRY(r.read_item());
    if (!r.empty())
        return err(Errc::rlp_trailing_bytes, std::to_string(r.remaining().size()) + " bytes after the item");
    return item;
}

}  // namespace zeppelin::eth::rlp
