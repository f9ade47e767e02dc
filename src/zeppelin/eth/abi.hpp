// The Solidity contract ABI (docs.soliditylang.org, "Contract ABI Specification"): types,
// a dynamic value model, encoding and decoding, selectors and event logs.
//
// Decoding is bounds-checked everywhere (offsets, lengths, element counts, total work) and
// returns Errc::abi_decode on any violation; it never throws and never reads out of range.
// Two levels of strictness (DecodeOptions::strict):
//   strict (default)  additionally rejects "dirty" padding: uint/int/address/bool/bytesN
//                     words whose unused bits are not the canonical zero/sign extension,
//                     and bytes/string tails whose padding is missing or non-zero.
//   lenient           reads values the way alloy (and so `cast abi-decode`) does: a uintN or
//                     intN is the whole 256-bit word, bool is word != 0, address the low 20
//                     bytes, bytesN the first N bytes; tails need no padding. The CLI uses
//                     this mode so that its output matches cast byte for byte.
// In both modes, offsets are relative to the start of the enclosing tuple (as the spec says),
// may point anywhere inside it, and trailing bytes after the last head are ignored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"
#include "zeppelin/core/u256.hpp"

namespace zeppelin::eth::abi {

enum class Kind : std::uint8_t {
    uint_,        // size = bits (8..256)
    int_,         // size = bits (8..256)
    address,
    boolean,
    fixed_bytes,  // size = byte count (1..32)
    bytes,
    string,
    array,        // dynamic T[]; inner[0] = T
    fixed_array,  // T[size]; inner[0] = T
    tuple,        // inner = components
};

/// An ABI type. Value-semantic tree.
struct Type {
    Kind kind{Kind::uint_};
    unsigned size{256};
    std::vector<Type> inner;

    static Type uint_(unsigned bits = 256) { return {Kind::uint_, bits, {}}; }
    static Type int_(unsigned bits = 256) { return {Kind::int_, bits, {}}; }
    static Type address() { return {Kind::address, 0, {}}; }
    static Type boolean() { return {Kind::boolean, 0, {}}; }
    static Type fixed_bytes(unsigned n) { return {Kind::fixed_bytes, n, {}}; }
    static Type bytes() { return {Kind::bytes, 0, {}}; }
    static Type string() { return {Kind::string, 0, {}}; }
    static Type array(Type element) { return {Kind::array, 0, {std::move(element)}}; }
    static Type fixed_array(Type element, unsigned n) { return {Kind::fixed_array, n, {std::move(element)}}; }
    static Type tuple(std::vector<Type> components) { return {Kind::tuple, 0, std::move(components)}; }

    /// True for bytes, string, T[], and tuples/fixed arrays containing a dynamic type.
    [[nodiscard]] bool is_dynamic() const;
    /// Size of this type's head in a tuple encoding (32 for dynamic types).
    [[nodiscard]] std::size_t head_size() const;
    /// Canonical name as used in selectors: "uint256", "(address,bytes)[2]".
    [[nodiscard]] std::string canonical() const;

    bool operator==(const Type&) const = default;
};

/// Parses one type: "uint", "int8", "bytes32", "string", "(uint256,bool)[]", "tuple(address)[2]".
/// "uint"/"int" mean 256 bits. Rejects empty tuples, zero-length fixed arrays and bad sizes.
Result<Type> parse_type(std::string_view text);

/// A named parameter of a function, event or error.
struct Param {
    std::string name;
    Type type;
    bool indexed{false};  // events only
};

std::vector<Type> types_of(std::span<const Param> params);

/// A function (or constructor when name == "constructor" in a JSON ABI).
struct Function {
    std::string name;
    std::vector<Param> inputs;
    std::vector<Param> outputs;

    /// "transfer(address,uint256)"
    [[nodiscard]] std::string signature() const;
    /// First 4 bytes of keccak256(signature()).
    [[nodiscard]] FixedBytes<4> selector() const;
};

struct Event {
    std::string name;
    std::vector<Param> inputs;
    bool anonymous{false};

    [[nodiscard]] std::string signature() const;
    /// keccak256(signature()): the first topic of a non-anonymous event's logs.
    [[nodiscard]] Hash32 topic0() const;
};

/// A custom error (`error InsufficientPayment(uint256 sent, uint256 needed)`).
struct ErrorDef {
    std::string name;
    std::vector<Param> inputs;

    [[nodiscard]] std::string signature() const;
    [[nodiscard]] FixedBytes<4> selector() const;
};

/// Parses a human-readable signature the way cast does:
///   "transfer(address,uint256)", "transfer(address to, uint256 amount)",
///   "balanceOf(address)(uint256)", "function f(uint a) external view returns (uint)",
///   "f((uint256,bytes)[2],int8)". Parameter names, storage locations and "indexed" are
/// accepted and ignored for encoding.
Result<Function> parse_function(std::string_view signature);
/// "Transfer(address indexed from, address indexed to, uint256 value)" (optionally prefixed
/// with "event " and suffixed with "anonymous").
Result<Event> parse_event(std::string_view signature);
/// "InsufficientPayment(uint256,uint256)" (optionally prefixed with "error ").
Result<ErrorDef> parse_error(std::string_view signature);

/// The function, event and error entries of a JSON ABI (solc's output format).
struct JsonAbi {
    std::vector<Function> functions;  // includes the constructor, named "constructor"
    std::vector<Event> events;
    std::vector<ErrorDef> errors;

    [[nodiscard]] const Function* function(std::string_view name) const;
    [[nodiscard]] const Event* event(std::string_view name) const;
    [[nodiscard]] const ErrorDef* error(std::string_view name) const;
};

/// Parses a JSON ABI array (or an object with an "abi" member, as solc/forge artifacts have).
Result<JsonAbi> parse_json_abi(std::string_view json);

// ---------------------------------------------------------------------------------------
// Values

/// A dynamically typed ABI value. Which members are used depends on `kind`:
///   uint_/int_   number (int_ as 256-bit two's complement), size = bits
///   boolean      number (0 or 1)
///   address      data (20 bytes)
///   fixed_bytes  data (size bytes), size = N
///   bytes        data;  string: data holds the UTF-8 text
///   array, fixed_array, tuple: items
struct Value {
    Kind kind{Kind::uint_};
    unsigned size{256};
    u256 number{0};
    Bytes data;
    std::vector<Value> items;

    static Value uint_(const u256& v, unsigned bits = 256) { return {Kind::uint_, bits, v, {}, {}}; }
    /// Signed value from its 256-bit two's complement.
    static Value int_raw(const u256& twos, unsigned bits = 256) { return {Kind::int_, bits, twos, {}, {}}; }
    static Value int_(std::int64_t v, unsigned bits = 256);
    static Value boolean(bool b) { return {Kind::boolean, 0, b ? 1 : 0, {}, {}}; }
    static Value address(const Address& a) { return {Kind::address, 0, 0, Bytes(a.begin(), a.end()), {}}; }
    static Value fixed_bytes(ByteView b) {
        return {Kind::fixed_bytes, static_cast<unsigned>(b.size()), 0, to_bytes(b), {}};
    }
    static Value bytes(ByteView b) { return {Kind::bytes, 0, 0, to_bytes(b), {}}; }
    static Value string(std::string_view s) { return {Kind::string, 0, 0, to_bytes(s), {}}; }
    static Value array(std::vector<Value> v) { return {Kind::array, 0, 0, {}, std::move(v)}; }
    static Value fixed_array(std::vector<Value> v) {
        auto n = static_cast<unsigned>(v.size());
        return {Kind::fixed_array, n, 0, {}, std::move(v)};
    }
    static Value tuple(std::vector<Value> v) { return {Kind::tuple, 0, 0, {}, std::move(v)}; }

    [[nodiscard]] bool as_bool() const noexcept { return number != 0; }
    [[nodiscard]] Address as_address() const noexcept { return fixed_from<20>(data); }
    [[nodiscard]] std::string_view as_string() const noexcept {
        return {reinterpret_cast<const char*>(data.data()), data.size()};
    }
    /// True if the 256-bit two's complement number is negative (int_ only).
    [[nodiscard]] bool is_negative() const noexcept { return kind == Kind::int_ && bit_test(number, 255); }

    bool operator==(const Value&) const = default;
};

struct EncodeOptions {
    /// Reject numbers outside the range of their uintN/intN type. cast does not check that
    /// intN magnitudes fit N bits (`cast abi-encode "f(int8)" -200` encodes -200), so the CLI
    /// turns this off to stay byte-identical; shapes and lengths are always checked.
    bool check_ranges{true};
};

/// Checks that `value` has the shape of `type` and fits it (uintN range, intN range, bytesN
/// length, array lengths). Errc::abi_invalid_value with a path in the message otherwise.
Result<void> check_value(const Type& type, const Value& value, EncodeOptions options = {});

// ---------------------------------------------------------------------------------------
// Encoding and decoding

/// Encodes values as a tuple (function arguments, return data, event data).
Result<Bytes> encode(std::span<const Type> types, std::span<const Value> values, EncodeOptions options = {});
/// Encodes one value as a one-element tuple.
Result<Bytes> encode_single(const Type& type, const Value& value, EncodeOptions options = {});
/// selector ++ encode(inputs, values).
Result<Bytes> encode_call(const Function& fn, std::span<const Value> values);

struct DecodeOptions {
    bool strict{true};
    /// Upper bound on the number of values produced (guards against inputs whose offsets
    /// make small data expand into huge arrays).
    std::size_t max_values{1u << 20};
};

/// Decodes a tuple of `types` from `data`. Trailing bytes are ignored.
Result<std::vector<Value>> decode(std::span<const Type> types, ByteView data, DecodeOptions options = {});

/// Decodes calldata for `fn`: checks the selector, then decodes the inputs.
Result<std::vector<Value>> decode_call(const Function& fn, ByteView calldata, DecodeOptions options = {});
/// Decodes return data of `fn` (its outputs).
Result<std::vector<Value>> decode_output(const Function& fn, ByteView data, DecodeOptions options = {});

/// A decoded log: one value per event input, in declaration order. Indexed parameters of a
/// dynamic type (string, bytes, arrays, tuples) are stored in topics only as keccak256 of
/// their encoding: they decode to a bytes32 value holding that hash, and `hashed` marks them.
struct DecodedLog {
    std::vector<Value> values;
    std::vector<bool> hashed;
};

Result<DecodedLog> decode_log(const Event& event, std::span<const Hash32> topics, ByteView data,
                              DecodeOptions options = {});

/// Topics of a log for the given values of an event's indexed inputs (for eth_getLogs filters
/// and tests): topic0 (unless anonymous), then one topic per indexed input; dynamic ones are
/// hashed as Solidity does (keccak256 of the in-place encoding).
Result<std::vector<Hash32>> encode_topics(const Event& event, std::span<const Value> indexed_values);

/// Decodes custom error data: checks the selector, then decodes the inputs.
Result<std::vector<Value>> decode_error(const ErrorDef& error, ByteView data, DecodeOptions options = {});

/// Revert data of Solidity's builtin `Error(string)` and `Panic(uint256)`: returns a message
/// ("reason" or "panic 0x11 (arithmetic overflow)"), or nullopt if the data is neither.
std::optional<std::string> decode_builtin_revert(ByteView data);

}  // namespace zeppelin::eth::abi
