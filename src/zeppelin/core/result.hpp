// Result<T>: a value or an Error, the return type of every fallible operation in the
// lower layers (no exceptions cross core/eth decoders). Outer layers (cli, node) may
// call .value(), which throws zeppelin::Exception carrying the same Error.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <optional>
#include <variant>

namespace zeppelin {

/// Error categories. Specific enough that callers can branch on them, and the message
/// carries the detail a person needs.
enum class Errc {
    invalid_argument,
    invalid_hex,
    overflow,
    // RLP
    rlp_input_too_short,
    rlp_leading_zero,
    rlp_non_canonical_size,
    rlp_unexpected_list,
    rlp_unexpected_string,
    rlp_trailing_bytes,
    rlp_overflow,
    // ABI
    abi_invalid_signature,
    abi_invalid_value,
    abi_decode,
    // crypto / keys / transactions
    invalid_key,
    invalid_signature,
    invalid_transaction,
    wrong_password,
    unsupported,
    // io and system
    io,
    not_found,
    already_exists,
    timeout,
    cancelled,
    too_early,       // not possible yet (a contract's "not yet" revert): try again later
    address_in_use,  // a port or address another process holds
    // JSON-RPC
    rpc_unreachable,
    rpc_bad_reply,
    rpc_error,
    reverted,
    // transfer / images / runtime
    protocol,
    auth_failed,
    digest_mismatch,
    hostile_archive,
    limit_exceeded,
    engine_error,
    // port mapping (a worker behind NAT opening its own ports)
    no_gateway,       // no UPnP IGD / NAT-PMP gateway answered: nothing can map a port
    double_nat,       // the gateway's external address is itself private: a mapping would not reach us
    mapping_refused,  // the gateway answered but refused the mapping (conflict, not authorized, full)
    internal,
};

std::string_view to_string(Errc code) noexcept;

class Error {
public:
    Error(Errc code, std::string message) : code_{code}, message_{std::move(message)} {}

    [[nodiscard]] Errc code() const noexcept { return code_; }
    [[nodiscard]] const std::string& message() const noexcept { return message_; }

    /// Returns a copy with "context: " prepended to the message (same code).
    [[nodiscard]] Error wrap(std::string_view context) const;

private:
    Errc code_;
    std::string message_;
};

/// Thrown by Result<T>::value() on an error, and by outer layers.
class Exception : public std::runtime_error {
public:
    explicit Exception(Error error) : std::runtime_error{error.message()}, error_{std::move(error)} {}
    [[nodiscard]] const Error& error() const noexcept { return error_; }

private:
    Error error_;
};

template <class T>
class [[nodiscard]] Result {
public:
    using value_type = T;

    template <class U = T>
        requires std::is_constructible_v<T, U&&> && (!std::is_same_v<std::remove_cvref_t<U>, Error>) &&
                 (!std::is_same_v<std::remove_cvref_t<U>, Result>)
    Result(U&& value) : v_{std::in_place_index<0>, std::forward<U>(value)} {}  // NOLINT implicit
    Result(Error error) : v_{std::in_place_index<1>, std::move(error)} {}      // NOLINT implicit

    [[nodiscard]] bool has_value() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    T& value() & {
        check();
        return std::get<0>(v_);
    }
    const T& value() const& {
        check();
        return std::get<0>(v_);
    }
    T&& value() && {
        check();
        return std::get<0>(std::move(v_));
    }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T&& operator*() && { return std::move(*this).value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    [[nodiscard]] const Error& error() const& { return std::get<1>(v_); }
    [[nodiscard]] Error&& error() && { return std::get<1>(std::move(v_)); }

    template <class U>
    T value_or(U&& fallback) const& {
        return has_value() ? std::get<0>(v_) : static_cast<T>(std::forward<U>(fallback));
    }

private:
    void check() const {
        if (!has_value()) throw Exception{std::get<1>(v_)};
    }
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : error_{std::move(error)}, ok_{false} {}  // NOLINT implicit

    [[nodiscard]] bool has_value() const noexcept { return ok_; }
    explicit operator bool() const noexcept { return ok_; }
    void value() const {
        if (!ok_) throw Exception{*error_};
    }
    [[nodiscard]] const Error& error() const& { return *error_; }
    [[nodiscard]] Error&& error() && { return std::move(*error_); }

private:
    std::optional<Error> error_;
    bool ok_{true};
};

/// Shorthand for building an error: `return fail(Errc::io, "cannot open {}", path);`
Error make_error(Errc code, std::string message);

}  // namespace zeppelin

/// Evaluates a Result-returning expression; on error returns the error from the enclosing
/// function, otherwise yields the value. (GNU statement expression: g++ and clang.)
#define ZP_TRY(...)                                                   \
    ({                                                                \
        auto&& zp_try_result_ = (__VA_ARGS__);                        \
        if (!zp_try_result_) return std::move(zp_try_result_).error(); \
        std::move(zp_try_result_).value();                            \
    })

/// Like ZP_TRY for Result<void>.
#define ZP_CHECK(...)                                                 \
    do {                                                              \
        auto&& zp_try_result_ = (__VA_ARGS__);                        \
        if (!zp_try_result_) return std::move(zp_try_result_).error(); \
    } while (false)
