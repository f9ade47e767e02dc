// Which characters cast (Rust's {:?}) escapes when it prints a string.
#pragma once

#include <cstdint>

namespace zeppelin::eth::abi {

/// True if Rust's Debug formatting of a str prints `cp` as "\u{..}" (for characters other
/// than the short escapes \0 \t \r \n \\ \").
bool rust_debug_escapes(std::uint32_t cp) noexcept;

}  // namespace zeppelin::eth::abi
