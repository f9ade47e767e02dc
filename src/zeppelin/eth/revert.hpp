// Decoding of EVM revert data into a message a person can read:
//   Error(string)   selector 0x08c379a0   -> `reverted: "not enough funds"`
//   Panic(uint256)  selector 0x4e487b71   -> `panic 0x11 (arithmetic underflow or overflow)`
//   custom errors   given their signatures or a JSON ABI
//                   -> `InsufficientPayment(sent: 1, needed: 2)`
//   anything else   -> `custom error 0x12345678 (unknown; data 0x...)`
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"
#include "zeppelin/core/u256.hpp"
#include "zeppelin/eth/abi.hpp"

namespace zeppelin::eth {

inline constexpr std::uint32_t kErrorStringSelector = 0x08c379a0;  // keccak256("Error(string)")[0..4]
inline constexpr std::uint32_t kPanicSelector = 0x4e487b71;        // keccak256("Panic(uint256)")[0..4]

/// The reason string of `Error(string)` revert data; nullopt if the data is not exactly that.
std::optional<std::string> decode_error_string(ByteView data);
/// The code of `Panic(uint256)` revert data; nullopt if the data is not exactly that.
std::optional<u256> decode_panic_code(ByteView data);
/// What a Solidity panic code means (Solidity docs, "Panic via assert and Error via require").
std::string_view panic_meaning(const u256& code);

/// A decoded revert.
struct Revert {
    enum class Kind { empty, error_string, panic, custom, unknown };
    Kind kind{Kind::empty};
    Bytes data;                  // the raw revert data
    std::string reason;          // error_string: the reason
    u256 panic_code;             // panic: the code
    std::string error_name;      // custom: "InsufficientPayment"
    std::vector<abi::Value> args;  // custom: decoded arguments
    std::string text;            // the whole thing for people
};

/// Knows custom errors, and decodes revert data. Fill it before sharing it between threads.
class RevertDecoder {
public:
    /// "InsufficientPayment(uint256 sent, uint256 needed)" (optionally "error ..." prefixed).
    Result<void> add_signature(std::string_view signature);
    /// Every "error" entry of a JSON ABI (solc output, or an artifact with an "abi" member).
    Result<void> add_json_abi(std::string_view json);
    void add(abi::ErrorDef def);

    /// Never fails: data it cannot decode is shown as selector + hex.
    [[nodiscard]] Revert decode(ByteView data) const;

    [[nodiscard]] const std::vector<abi::ErrorDef>& errors() const noexcept { return errors_; }

private:
    std::vector<abi::ErrorDef> errors_;
};

/// A value as text: numbers in decimal (signed for intN), addresses EIP-55, bytes as hex,
/// strings quoted, arrays/tuples in brackets/parentheses.
std::string format_abi_value(const abi::Value& v);

}  // namespace zeppelin::eth
