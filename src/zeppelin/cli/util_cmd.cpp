// `zeppelin util ...`: offline Ethereum utilities. Given the same inputs, each prints exactly
// what Foundry's `cast` 1.7.1 prints for the command of the same name (checked by the
// differential suite in tests/differential/):
//   keccak <text|0xhex>           cast keccak
//   abi-encode <sig> [args...]    cast abi-encode
//   calldata <sig> [args...]      cast calldata
//   abi-decode <sig> <data>       cast abi-decode   (--input/-i: decode the inputs)
//   to-rlp <json>                 cast to-rlp
//   from-rlp <hex> [--as-int]     cast from-rlp
// Errors go to stderr (via zeppelin_main) with exit code 1. With --json each prints one JSON value:
// a string for hex and numbers, an array of strings for abi-decode, the tree for from-rlp.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "zeppelin/cli/commands.hpp"
#include "zeppelin/core/hex.hpp"
#include "zeppelin/eth/abi.hpp"
#include "zeppelin/eth/abi_text.hpp"
#include "zeppelin/eth/keccak.hpp"
#include "zeppelin/eth/rlp.hpp"

namespace zeppelin::cli {
namespace {

namespace abi = eth::abi;
namespace rlp = eth::rlp;

[[noreturn]] void fail(Error e) { throw Exception{std::move(e)}; }

template <class T>
T check(Result<T> r, std::string_view context) {
    if (!r) fail(r.error().wrap(context));
    return std::move(r).value();
}

void print_line(std::string_view s) {
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fputc('\n', stdout);
}

/// One result: as it is, or as a JSON string with --json.
void print_value(const std::string& s) {
    if (global_options().json) print_line(nlohmann::json(s).dump());
    else print_line(s);
}

std::string read_stdin() {
    return std::string{std::istreambuf_iterator<char>{std::cin}, std::istreambuf_iterator<char>{}};
}

/// Hex as cast reads it: an optional lower-case "0x", then an even number of hex digits.
Result<Bytes> cast_hex(std::string_view s) {
    if (s.substr(0, 2) == "0x") s.remove_prefix(2);
    if (s.size() >= 2 && s[0] == '0' && s[1] == 'X') return Error{Errc::invalid_hex, "invalid character 'X' in hex"};
    return from_hex(s);
}

std::string trim_end(std::string s) {
    while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t')) s.pop_back();
    return s;
}

// ---- keccak ----

void run_keccak(const std::vector<std::string>& args) {
    std::string data = args.empty() ? read_stdin() : args[0];
    Hash32 h;
    if (data.rfind("0x", 0) == 0) h = eth::keccak256(ByteView{check(cast_hex(trim_end(data)), "keccak")});
    else h = eth::keccak256(std::string_view{data});
    print_value(to_hex(h));
}

// ---- ABI ----

abi::Function parse_sig(const std::string& sig) {
    return check(abi::parse_function(sig), "could not parse function signature");
}

Bytes encode_args(const abi::Function& fn, const std::vector<std::string>& args) {
    if (args.size() != fn.inputs.size())
        fail(Error{Errc::abi_invalid_value, "encode length mismatch: expected " + std::to_string(fn.inputs.size()) +
                                                " types, got " + std::to_string(args.size())});
    std::vector<abi::Type> types = abi::types_of(fn.inputs);
    std::vector<abi::Value> values;
    for (std::size_t i = 0; i < args.size(); ++i)
        values.push_back(check(abi::parse_value(types[i], args[i]), "argument " + std::to_string(i + 1)));
    return check(abi::encode(types, values, {.check_ranges = false}), "could not ABI encode the arguments");
}

void run_abi_encode(const std::string& sig, const std::vector<std::string>& args) {
    auto fn = parse_sig(sig);
    print_value(to_hex(encode_args(fn, args)));
}

void run_calldata(const std::string& sig, const std::vector<std::string>& args) {
    auto fn = parse_sig(sig);
    auto body = encode_args(fn, args);
    auto sel = fn.selector();
    Bytes out(sel.begin(), sel.end());
    out.insert(out.end(), body.begin(), body.end());
    print_value(to_hex(out));
}

void run_abi_decode(const std::string& sig, const std::string& data, bool input) {
    auto fn = parse_sig(sig);
    auto bytes = check(cast_hex(data), "could not decode the data as hex");
    auto types = abi::types_of(input ? fn.inputs : fn.outputs);
    // Lenient like cast: values are read from whole words, trailing bytes ignored.
    auto values = check(abi::decode(types, bytes, {.strict = false}), "ABI decoding failed");
    if (values.empty()) fail(Error{Errc::abi_decode, "no data was decoded"});
    if (global_options().json) {
        auto arr = nlohmann::json::array();
        for (auto& v : values) arr.push_back(abi::format_value(v));
        print_line(arr.dump());
        return;
    }
    std::string out;
    for (auto& v : values) {
        out += abi::format_value(v);
        out += '\n';
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
}

// ---- RLP ----

/// JSON → RLP item, as cast's to-rlp: strings are hex, numbers unsigned integers (minimal
/// big-endian, any size), null is the empty string; booleans and objects are errors.
/// Built with a SAX handler so that numbers beyond 64 bits keep their exact digits.
class RlpSax {
public:
    using number_integer_t = nlohmann::json::number_integer_t;
    using number_unsigned_t = nlohmann::json::number_unsigned_t;
    using number_float_t = nlohmann::json::number_float_t;
    using string_t = std::string;
    using binary_t = nlohmann::json::binary_t;

    bool null() { return add(rlp::Item::string({})); }
    bool boolean(bool) { return bad("RLP input can not contain booleans"); }
    bool number_integer(number_integer_t v) { return number(std::to_string(v)); }
    bool number_unsigned(number_unsigned_t v) { return number(std::to_string(v)); }
    bool number_float(number_float_t, const string_t& raw) { return number(raw); }
    bool string(string_t& s) {
        auto b = cast_hex(s);
        if (!b) return bad("Could not decode hex: " + b.error().message());
        return add(rlp::Item::string(std::move(*b)));
    }
    bool binary(binary_t&) { return bad("unexpected binary value"); }
    bool start_object(std::size_t) { return bad("RLP input can not contain objects"); }
    bool key(string_t&) { return bad("RLP input can not contain objects"); }
    bool end_object() { return bad("RLP input can not contain objects"); }
    bool start_array(std::size_t) {
        stack_.push_back(rlp::Item::list({}));
        return true;
    }
    bool end_array() {
        auto item = std::move(stack_.back());
        stack_.pop_back();
        return add(std::move(item));
    }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
        syntax_error_ = true;
        return false;
    }

    bool syntax_error() const { return syntax_error_; }
    const std::string& error() const { return error_; }
    rlp::Item take() { return std::move(root_); }

private:
    bool number(const std::string& text) {
        bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
        if (!digits) return bad("invalid number " + text + " (RLP numbers must be unsigned integers)");
        auto v = parse_u256(text);
        if (!v) return bad("number " + text + " does not fit 256 bits");
        return add(rlp::Item::string(to_be_minimal(*v)));
    }
    bool add(rlp::Item item) {
        if (stack_.empty()) root_ = std::move(item);
        else stack_.back().items.push_back(std::move(item));
        return true;
    }
    bool bad(std::string msg) {
        error_ = std::move(msg);
        return false;
    }

    std::vector<rlp::Item> stack_;
    rlp::Item root_;
    std::string error_;
    bool syntax_error_{false};
};

void run_to_rlp(const std::vector<std::string>& args) {
    std::string text = args.empty() ? trim_end(read_stdin()) : args[0];
    RlpSax sax;
    rlp::Item item;
    if (nlohmann::json::sax_parse(text, &sax)) {
        item = sax.take();
    } else if (sax.syntax_error()) {
        // Not JSON: cast reads the whole argument as one hex string.
        item = rlp::Item::string(check(cast_hex(text), "Could not decode hex"));
    } else {
        fail(Error{Errc::invalid_argument, sax.error()});
    }
    print_value(to_hex(rlp::encode(item)));
}

void append_item_text(const rlp::Item& item, std::string& out) {
    if (!item.is_list) {
        out += '"' + to_hex(item.str) + '"';
        return;
    }
    out += '[';
    for (std::size_t i = 0; i < item.items.size(); ++i) {
        if (i) out += ',';
        append_item_text(item.items[i], out);
    }
    out += ']';
}

void run_from_rlp(const std::vector<std::string>& args, bool as_int) {
    std::string text = args.empty() ? trim_end(read_stdin()) : args[0];
    auto bytes = check(cast_hex(text), "Could not decode hex");
    rlp::Reader reader{bytes};  // like cast, bytes after the first item are ignored
    if (as_int) {
        print_value(to_dec(check(reader.read_uint(), "Could not decode rlp")));
        return;
    }
    auto item = check(reader.read_item(), "Could not decode rlp");
    std::string out;
    append_item_text(item, out);
    print_line(out);
}

}  // namespace

void add_util_commands(CLI::App& app) {
    auto* group = app.add_subcommand("util", "Offline Ethereum utilities (output identical to Foundry's cast)");
    group->require_subcommand(1);

    // Single-string options: CLI11 splits "[a,b]" into several values for vector options,
    // which would break ABI arrays and JSON, so optional arguments are plain strings and
    // variadic ABI arguments are collected from the subcommand's extras (order preserved).
    struct OptionalArg {
        std::string value;
        CLI::Option* option{nullptr};
        std::vector<std::string> list() const {
            if (option != nullptr && option->count() > 0) return {value};
            return {};
        }
    };
    {
        auto* cmd = group->add_subcommand("keccak", "Keccak-256 of text, or of bytes given as 0x-hex (stdin if omitted)");
        auto arg = std::make_shared<OptionalArg>();
        arg->option = cmd->add_option("data", arg->value, "Text or 0x-prefixed hex");
        cmd->callback([arg] { run_keccak(arg->list()); });
    }
    for (auto [name, help] : {std::pair{"abi-encode", "ABI-encode arguments for a function signature"},
                              std::pair{"calldata", "ABI-encode a call: selector followed by the arguments"}}) {
        auto* cmd = group->add_subcommand(name, help);
        auto sig = std::make_shared<std::string>();
        cmd->add_option("sig", *sig, "Function signature, e.g. \"transfer(address,uint256)\"")->required();
        cmd->allow_extras();  // the arguments, one per parameter ("1ether", "[1,2]", "(0xab..,true)")
        // The arguments are its extras: none may fall through to the root (which would refuse them),
        // so the global --json is its own option here.
        cmd->fallthrough(false);
        cmd->add_flag("--json", global_options().json, "Print the result as a JSON string");
        cmd->footer("ARGS: one per parameter, e.g. 1ether, -5, 0xab.., true, \"[1,2]\", \"(1,hello)\"");
        bool calldata = std::string_view{name} == "calldata";
        cmd->callback([cmd, sig, calldata] {
            auto args = cmd->remaining();
            if (calldata) run_calldata(*sig, args);
            else run_abi_encode(*sig, args);
        });
    }
    {
        auto* cmd = group->add_subcommand("abi-decode", "Decode ABI-encoded return data (or inputs with --input)");
        auto sig = std::make_shared<std::string>();
        auto data = std::make_shared<std::string>();
        auto input = std::make_shared<bool>(false);
        cmd->add_option("sig", *sig, "Signature with return types, e.g. \"balanceOf(address)(uint256)\"")->required();
        cmd->add_option("data", *data, "0x-hex data")->required();
        cmd->add_flag("-i,--input", *input, "Decode the function's inputs instead of its outputs");
        cmd->callback([sig, data, input] { run_abi_decode(*sig, *data, *input); });
    }
    {
        auto* cmd = group->add_subcommand("to-rlp", "RLP-encode a JSON tree of hex strings and lists (stdin if omitted)");
        auto arg = std::make_shared<OptionalArg>();
        arg->option = cmd->add_option("json", arg->value, "e.g. '[\"0xaa\",[\"0x\",\"0x01\"]]'");
        cmd->callback([arg] { run_to_rlp(arg->list()); });
    }
    {
        auto* cmd = group->add_subcommand("from-rlp", "Decode RLP into a JSON tree of hex strings (stdin if omitted)");
        auto arg = std::make_shared<OptionalArg>();
        auto as_int = std::make_shared<bool>(false);
        arg->option = cmd->add_option("hex", arg->value, "0x-hex RLP");
        cmd->add_flag("--as-int", *as_int, "Decode the item as an unsigned integer");
        cmd->callback([arg, as_int] { run_from_rlp(arg->list(), *as_int); });
    }
}

}  // namespace zeppelin::cli
