// Reading decoded ABI values in the order a contract returns or emits them, kinds and ranges
// checked; the first problem is kept and reported once. Used by the dispatcher's bindings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/hex.hpp"
#include "zeppelin/core/result.hpp"
#include "zeppelin/core/u256.hpp"
#include "zeppelin/eth/abi.hpp"

namespace zeppelin::market::detail {

using eth::abi::Kind;
using eth::abi::Value;

/// Reads decoded ABI values in order, checking kinds and ranges; the first problem is kept.
class Reader {
public:
    Reader(const std::vector<Value>& values, std::string_view what) : values_{values}, what_{what} {}

    const Value* next(Kind kind) {
        if (!error_.empty()) return nullptr;
        if (index_ >= values_.size()) {
            fail("too few values");
            return nullptr;
        }
        const Value& v = values_[index_++];
        if (v.kind != kind) {
            fail("value " + std::to_string(index_ - 1) + " has an unexpected type");
            return nullptr;
        }
        return &v;
    }
    u256 big() {
        const auto* v = next(Kind::uint_);
        return v ? v->number : u256{0};
    }
    template <class T>
    T num() {
        const u256 n = big();
        if (n > u256{std::numeric_limits<T>::max()}) {
            fail("value " + std::to_string(index_ - 1) + " (" + to_dec(n) + ") is out of range");
            return T{0};
        }
        return static_cast<T>(n);
    }
    bool boolean() {
        const auto* v = next(Kind::boolean);
        return v ? v->as_bool() : false;
    }
    Address address() {
        const auto* v = next(Kind::address);
        return v ? v->as_address() : Address{};
    }
    Bytes bytes() {
        const auto* v = next(Kind::bytes);
        return v ? v->data : Bytes{};
    }
    Hash32 hash() {
        const auto* v = next(Kind::fixed_bytes);
        return v ? fixed_from<32>(v->data) : Hash32{};
    }
    std::vector<std::uint32_t> u32s() {
        std::vector<std::uint32_t> out;
        const auto* v = next(Kind::array);
        if (!v) return out;
        Reader inner{v->items, what_};
        for (std::size_t i = 0; i < v->items.size(); ++i) out.push_back(inner.num<std::uint32_t>());
        if (!inner.error_.empty()) fail(inner.error_);
        return out;
    }
    Reader tuple() {
        static const std::vector<Value> empty;
        const auto* v = next(Kind::tuple);
        return Reader{v ? v->items : empty, what_};
    }
    template <class E>
    E enumeration(std::uint8_t max) {
        const auto n = num<std::uint8_t>();
        if (n > max) fail("enum value " + std::to_string(n) + " is out of range");
        return static_cast<E>(n);
    }
    void fail(std::string message) {
        if (error_.empty()) error_ = std::move(message);
    }
    void absorb(const Reader& other) {
        if (!other.error_.empty()) fail(other.error_);
    }
    [[nodiscard]] Result<void> done() const {
        if (error_.empty()) return {};
        return Error{Errc::abi_decode, "cannot decode " + std::string{what_} + ": " + error_};
    }

    std::vector<u256> u256s() {
        std::vector<u256> out;
        const auto* v = next(Kind::array);
        if (!v) return out;
        Reader inner{v->items, what_};
        for (std::size_t i = 0; i < v->items.size(); ++i) out.push_back(inner.big());
        if (!inner.error_.empty()) fail(inner.error_);
        return out;
    }

private:
    const std::vector<Value>& values_;
    std::string_view what_;
    std::size_t index_{0};
    std::string error_;
};

}  // namespace zeppelin::market::detail
