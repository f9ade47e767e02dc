// Recursive Length Prefix (Ethereum Yellow Paper, appendix B) with strict canonical decoding:
// a decoder accepts exactly the encodings this encoder produces, so decode∘encode and
// encode∘decode are identities (the fuzz target fuzz/rlp_fuzz.cpp checks the latter).
#pragma once

#include <cstddef>
#include <vector>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"
#include "zeppelin/core/u256.hpp"

namespace zeppelin::eth::rlp {

/// Deepest list nesting the decoder accepts (guards the stack against hostile input).
inline constexpr std::size_t kMaxDepth = 128;

/// A decoded RLP tree: either a byte string or a list of items.
struct Item {
    bool is_list{false};
    Bytes str;                // when !is_list
    std::vector<Item> items;  // when is_list

    static Item string(Bytes b) { return Item{false, std::move(b), {}}; }
    static Item list(std::vector<Item> v) { return Item{true, {}, std::move(v)}; }
    bool operator==(const Item&) const = default;
};

// ---- encoding (appending to `out`) ----
void append_string(Bytes& out, ByteView s);
void append_uint(Bytes& out, const u256& v);  // minimal big-endian, zero = 0x80
void append_list_header(Bytes& out, std::size_t payload_length);
void append_item(Bytes& out, const Item& item);

Bytes encode(const Item& item);
Bytes encode_string(ByteView s);
Bytes encode_uint(const u256& v);
/// Wraps already-encoded items (concatenated in `payload`) into a list.
Bytes encode_list(ByteView payload);

// ---- decoding ----

/// Header of the next item.
struct Header {
    bool is_list{false};
    std::size_t header_length{0};
    std::size_t payload_length{0};
};

/// Reads the header at the front of `in`, checking canonical form and that the payload fits.
Result<Header> decode_header(ByteView in);

/// A cursor over a sequence of encoded items (the top level or a list's payload).
class Reader {
public:
    explicit Reader(ByteView in) : in_{in} {}

    [[nodiscard]] bool empty() const noexcept { return in_.empty(); }
    [[nodiscard]] ByteView remaining() const noexcept { return in_; }

    /// Next item must be a byte string; returns its payload.
    Result<ByteView> read_string();
    /// Next item must be a string holding a canonical unsigned integer (no leading zeros).
    Result<u256> read_uint();
    Result<std::uint64_t> read_u64();
    /// Next item must be a list; returns a reader over its payload.
    Result<Reader> read_list();
    /// Skips the next item and returns its full encoding.
    Result<ByteView> read_raw();
    /// Next item, decoded into a tree.
    Result<Item> read_item(std::size_t depth = 0);

private:
    ByteView in_;
};

/// Decodes exactly one item spanning the whole input (trailing bytes are an error).
Result<Item> decode(ByteView in);

}  // namespace zeppelin::eth::rlp
