#include "zeppelin/eth/abi.hpp"

#include <gtest/gtest.h>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/eth/keccak.hpp"

namespace zeppelin::eth::abi {
namespace {

Bytes H(std::string_view hex) { return from_hex(hex).value(); }
std::string words(std::initializer_list<std::string_view> ws) {
    std::string s;
    for (auto w : ws) s += w;
    return s;
}

Bytes call(std::string_view sig, std::vector<Value> values) {
    auto fn = parse_function(sig).value();
    return encode_call(fn, values).value();
}

// ---- Solidity documentation, "Contract ABI Specification" > "Examples" and
// "Use of Dynamic Types" (docs.soliditylang.org/en/latest/abi-spec.html) ----

TEST(AbiSpec, BazUint32Bool) {
    auto data = call("baz(uint32,bool)", {Value::uint_(69, 32), Value::boolean(true)});
    EXPECT_EQ(to_hex(data), "0xcdcd77c0" + words({"0000000000000000000000000000000000000000000000000000000000000045",
                                                  "0000000000000000000000000000000000000000000000000000000000000001"}));
}

TEST(AbiSpec, BarBytes3Array) {
    auto data = call("bar(bytes3[2])", {Value::fixed_array({Value::fixed_bytes(as_view("abc")),
                                                            Value::fixed_bytes(as_view("def"))})});
    EXPECT_EQ(to_hex(data), "0xfce353f6" + words({"6162630000000000000000000000000000000000000000000000000000000000",
                                                  "6465660000000000000000000000000000000000000000000000000000000000"}));
}

TEST(AbiSpec, SamBytesBoolUintArray) {
    auto data = call("sam(bytes,bool,uint256[])",
                     {Value::bytes(as_view("dave")), Value::boolean(true),
                      Value::array({Value::uint_(1), Value::uint_(2), Value::uint_(3)})});
    EXPECT_EQ(to_hex(data), "0xa5643bf2" + words({"0000000000000000000000000000000000000000000000000000000000000060",
                                                  "0000000000000000000000000000000000000000000000000000000000000001",
                                                  "00000000000000000000000000000000000000000000000000000000000000a0",
                                                  "0000000000000000000000000000000000000000000000000000000000000004",
                                                  "6461766500000000000000000000000000000000000000000000000000000000",
                                                  "0000000000000000000000000000000000000000000000000000000000000003",
                                                  "0000000000000000000000000000000000000000000000000000000000000001",
                                                  "0000000000000000000000000000000000000000000000000000000000000002",
                                                  "0000000000000000000000000000000000000000000000000000000000000003"}));
}

TEST(AbiSpec, FDynamicTypes) {
    auto data = call("f(uint256,uint32[],bytes10,bytes)",
                     {Value::uint_(0x123), Value::array({Value::uint_(0x456, 32), Value::uint_(0x789, 32)}),
                      Value::fixed_bytes(as_view("1234567890")), Value::bytes(as_view("Hello, world!"))});
    EXPECT_EQ(to_hex(data), "0x8be65246" + words({"0000000000000000000000000000000000000000000000000000000000000123",
                                                  "0000000000000000000000000000000000000000000000000000000000000080",
                                                  "3132333435363738393000000000000000000000000000000000000000000000",
                                                  "00000000000000000000000000000000000000000000000000000000000000e0",
                                                  "0000000000000000000000000000000000000000000000000000000000000002",
                                                  "0000000000000000000000000000000000000000000000000000000000000456",
                                                  "0000000000000000000000000000000000000000000000000000000000000789",
                                                  "000000000000000000000000000000000000000000000000000000000000000d",
                                                  "48656c6c6f2c20776f726c642100000000000000000000000000000000000000"}));
}

TEST(AbiSpec, GNestedDynamicArrays) {
    auto fn = parse_function("g(uint256[][],string[])").value();
    std::vector<Value> args{
        Value::array({Value::array({Value::uint_(1), Value::uint_(2)}), Value::array({Value::uint_(3)})}),
        Value::array({Value::string("one"), Value::string("two"), Value::string("three")})};
    auto data = encode_call(fn, args).value();
    auto expected = "0x2289b18c" + words({"0000000000000000000000000000000000000000000000000000000000000040",
                                          "0000000000000000000000000000000000000000000000000000000000000140",
                                          "0000000000000000000000000000000000000000000000000000000000000002",
                                          "0000000000000000000000000000000000000000000000000000000000000040",
                                          "00000000000000000000000000000000000000000000000000000000000000a0",
                                          "0000000000000000000000000000000000000000000000000000000000000002",
                                          "0000000000000000000000000000000000000000000000000000000000000001",
                                          "0000000000000000000000000000000000000000000000000000000000000002",
                                          "0000000000000000000000000000000000000000000000000000000000000001",
                                          "0000000000000000000000000000000000000000000000000000000000000003",
                                          "0000000000000000000000000000000000000000000000000000000000000003",
                                          "0000000000000000000000000000000000000000000000000000000000000060",
                                          "00000000000000000000000000000000000000000000000000000000000000a0",
                                          "00000000000000000000000000000000000000000000000000000000000000e0",
                                          "0000000000000000000000000000000000000000000000000000000000000003",
                                          "6f6e650000000000000000000000000000000000000000000000000000000000",
                                          "0000000000000000000000000000000000000000000000000000000000000003",
                                          "74776f0000000000000000000000000000000000000000000000000000000000",
                                          "0000000000000000000000000000000000000000000000000000000000000005",
                                          "7468726565000000000000000000000000000000000000000000000000000000"});
    EXPECT_EQ(to_hex(data), expected);
    // and back
    auto decoded = decode_call(fn, data).value();
    EXPECT_EQ(decoded, args);
}

TEST(AbiSpec, DecodeSpecExamplesRoundTrip) {
    auto fn = parse_function("f(uint256,uint32[],bytes10,bytes)").value();
    auto data = H("8be65246"
                  "0000000000000000000000000000000000000000000000000000000000000123"
                  "0000000000000000000000000000000000000000000000000000000000000080"
                  "3132333435363738393000000000000000000000000000000000000000000000"
                  "00000000000000000000000000000000000000000000000000000000000000e0"
                  "0000000000000000000000000000000000000000000000000000000000000002"
                  "0000000000000000000000000000000000000000000000000000000000000456"
                  "0000000000000000000000000000000000000000000000000000000000000789"
                  "000000000000000000000000000000000000000000000000000000000000000d"
                  "48656c6c6f2c20776f726c642100000000000000000000000000000000000000");
    auto v = decode_call(fn, data).value();
    ASSERT_EQ(v.size(), 4u);
    EXPECT_EQ(v[0].number, 0x123);
    EXPECT_EQ(v[1].items.size(), 2u);
    EXPECT_EQ(v[1].items[1].number, 0x789);
    EXPECT_EQ(v[2].data, to_bytes(std::string_view{"1234567890"}));
    EXPECT_EQ(v[3].as_string(), "Hello, world!");
    EXPECT_EQ(encode_call(fn, v).value(), data);
}

// ---- types and signatures ----

TEST(AbiTypes, ParsesAndCanonicalizes) {
    EXPECT_EQ(parse_type("uint").value().canonical(), "uint256");
    EXPECT_EQ(parse_type("int").value(), Type::int_(256));
    EXPECT_EQ(parse_type("tuple(uint8,(bytes,string)[2])[]").value().canonical(), "(uint8,(bytes,string)[2])[]");
    EXPECT_EQ(parse_type("bytes32[3][]").value(),
              Type::array(Type::fixed_array(Type::fixed_bytes(32), 3)));
    for (auto bad : {"uint7", "uint264", "bytes33", "bytes0", "int0", "uint08", "()", "uint[0]", "foo", "uint[", "(uint"})
        EXPECT_FALSE(parse_type(bad).has_value()) << bad;
    EXPECT_EQ(parse_type("uint7").error().code(), Errc::abi_invalid_signature);
}

TEST(AbiTypes, DynamicAndHeadSize) {
    EXPECT_FALSE(parse_type("(uint256,bool)[3]").value().is_dynamic());
    EXPECT_EQ(parse_type("(uint256,bool)[3]").value().head_size(), 192u);
    EXPECT_TRUE(parse_type("(uint256,bytes)").value().is_dynamic());
    EXPECT_TRUE(parse_type("string[2]").value().is_dynamic());
    EXPECT_EQ(parse_type("string[2]").value().head_size(), 32u);
}

TEST(AbiSignatures, FunctionForms) {
    auto f = parse_function("transfer(address to, uint256 amount)").value();
    EXPECT_EQ(f.signature(), "transfer(address,uint256)");
    EXPECT_EQ(to_hex(f.selector()), "0xa9059cbb");
    EXPECT_EQ(f.inputs[0].name, "to");

    auto g = parse_function("balanceOf(address)(uint256)").value();
    ASSERT_EQ(g.outputs.size(), 1u);
    EXPECT_EQ(g.outputs[0].type, Type::uint_());
    EXPECT_EQ(to_hex(g.selector()), "0x70a08231");

    auto h = parse_function("function f(uint a, string memory s) external view returns (uint, bool)").value();
    EXPECT_EQ(h.signature(), "f(uint256,string)");
    EXPECT_EQ(h.outputs.size(), 2u);

    auto k = parse_function("f(uint256[],(bytes,string)[2],int8)").value();
    EXPECT_EQ(k.signature(), "f(uint256[],(bytes,string)[2],int8)");
    EXPECT_EQ(parse_function(" g ( uint , ) ").value().signature(), "g(uint256)");

    for (auto bad : {"", "(uint256)", "uint256", "f(uint256", "f(uint256) junk", "f(uint7)", "f(a b c d)"})
        EXPECT_FALSE(parse_function(bad).has_value()) << bad;
}

TEST(AbiSignatures, EventsAndErrors) {
    auto ev = parse_event("event Transfer(address indexed from, address indexed to, uint256 value)").value();
    EXPECT_EQ(to_hex(ev.topic0()), "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");
    EXPECT_TRUE(ev.inputs[0].indexed);
    EXPECT_FALSE(ev.inputs[2].indexed);
    EXPECT_TRUE(parse_event("Anon(uint256) anonymous").value().anonymous);

    auto err = parse_error("error InsufficientBalance(uint256 available, uint256 required)").value();
    EXPECT_EQ(err.signature(), "InsufficientBalance(uint256,uint256)");
    EXPECT_EQ(err.selector(), parse_function("InsufficientBalance(uint256,uint256)").value().selector());
}

TEST(AbiJson, ParsesFunctionsEventsErrorsWithTuples) {
    auto abi = parse_json_abi(R"([
      {"type":"function","name":"submit","stateMutability":"nonpayable",
       "inputs":[{"name":"orders","type":"tuple[]","components":[
          {"name":"maker","type":"address"},{"name":"amounts","type":"uint256[2]"},
          {"name":"meta","type":"tuple","components":[{"name":"tag","type":"bytes32"},{"name":"note","type":"string"}]}]},
         {"name":"flag","type":"bool"}],
       "outputs":[{"name":"","type":"uint256"}]},
      {"type":"event","name":"Transfer","anonymous":false,"inputs":[
         {"name":"from","type":"address","indexed":true},{"name":"to","type":"address","indexed":true},
         {"name":"value","type":"uint256","indexed":false}]},
      {"type":"error","name":"Nope","inputs":[{"name":"code","type":"uint8"}]},
      {"type":"constructor","inputs":[{"name":"owner","type":"address"}]},
      {"type":"receive","stateMutability":"payable"}
    ])").value();
    auto* f = abi.function("submit");
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->signature(), "submit((address,uint256[2],(bytes32,string))[],bool)");
    EXPECT_EQ(f->outputs.size(), 1u);
    ASSERT_NE(abi.event("Transfer"), nullptr);
    EXPECT_EQ(to_hex(abi.event("Transfer")->topic0()),
              "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");
    ASSERT_NE(abi.error("Nope"), nullptr);
    EXPECT_EQ(abi.error("Nope")->signature(), "Nope(uint8)");
    ASSERT_NE(abi.function("constructor"), nullptr);
    EXPECT_FALSE(parse_json_abi("{").has_value());
    EXPECT_FALSE(parse_json_abi(R"([{"type":"function","name":"f","inputs":[{"type":"tuple"}]}])").has_value());
}

// ---- encoding details ----

TEST(AbiEncode, NegativeIntsAndRangeChecks) {
    auto t = Type::int_(8);
    EXPECT_EQ(to_hex(encode_single(t, Value::int_(-1, 8)).value()),
              "0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
    EXPECT_FALSE(encode_single(t, Value::int_(-129, 8)).has_value());
    EXPECT_FALSE(encode_single(t, Value::int_(128, 8)).has_value());
    EXPECT_TRUE(encode_single(t, Value::int_(-128, 8)).has_value());
    EXPECT_FALSE(encode_single(Type::uint_(8), Value::uint_(256, 8)).has_value());
    EXPECT_EQ(encode_single(Type::uint_(8), Value::uint_(256, 8)).error().code(), Errc::abi_invalid_value);
    EXPECT_FALSE(encode_single(Type::fixed_bytes(2), Value::fixed_bytes(H("01"))).has_value());
    EXPECT_FALSE(encode_single(Type::string(), Value::bytes(H("01"))).has_value());
    EXPECT_FALSE(encode_single(Type::fixed_array(Type::boolean(), 2), Value::fixed_array({Value::boolean(true)})).has_value());
}

TEST(AbiEncode, StaticTupleInline) {
    auto t = parse_type("(uint8,(bool,address))").value();
    Address a{};
    a[19] = 0xaa;
    auto v = Value::tuple({Value::uint_(7, 8), Value::tuple({Value::boolean(true), Value::address(a)})});
    EXPECT_EQ(to_hex(encode_single(t, v).value()),
              "0x0000000000000000000000000000000000000000000000000000000000000007"
              "0000000000000000000000000000000000000000000000000000000000000001"
              "00000000000000000000000000000000000000000000000000000000000000aa");
}

// ---- strict decoding ----

TEST(AbiDecode, RejectsTruncatedAndBadOffsets) {
    std::vector<Type> ts{Type::bytes()};
    // offset pointing past the end
    auto r = decode(ts, H("0000000000000000000000000000000000000000000000000000000000000040"));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), Errc::abi_decode);
    // huge offset
    EXPECT_FALSE(decode(ts, H("ff00000000000000000000000000000000000000000000000000000000000020")).has_value());
    // length past the end
    EXPECT_FALSE(decode(ts, H("0000000000000000000000000000000000000000000000000000000000000020"
                              "00000000000000000000000000000000000000000000000000000000000000ff"))
                     .has_value());
    // too short for a word
    EXPECT_FALSE(decode(std::vector<Type>{Type::uint_()}, H("00")).has_value());
    // array length larger than the data could hold
    EXPECT_FALSE(decode(std::vector<Type>{parse_type("uint256[]").value()},
                        H("0000000000000000000000000000000000000000000000000000000000000020"
                          "00000000000000000000000000000000000000000000000000000000ffffffff"))
                     .has_value());
}

TEST(AbiDecode, DirtyBitsStrictVersusLenient) {
    auto w = [](std::string_view hex) { return H(hex); };
    auto one = [](Type t) { return std::vector<Type>{std::move(t)}; };
    auto dirty_uint8 = w("0000000000000000000000000000000000000000000000000000000000000101");
    EXPECT_FALSE(decode(one(Type::uint_(8)), dirty_uint8).has_value());
    auto lenient = decode(one(Type::uint_(8)), dirty_uint8, {.strict = false}).value();
    EXPECT_EQ(lenient[0].number, 257);  // cast prints 257 too

    auto bool2 = w("0000000000000000000000000000000000000000000000000000000000000002");
    EXPECT_FALSE(decode(one(Type::boolean()), bool2).has_value());
    EXPECT_TRUE(decode(one(Type::boolean()), bool2, {.strict = false}).value()[0].as_bool());

    auto not_sign_extended = w("00000000000000000000000000000000000000000000000000000000000000ff");
    EXPECT_FALSE(decode(one(Type::int_(8)), not_sign_extended).has_value());
    auto minus_one = w("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
    auto v = decode(one(Type::int_(8)), minus_one).value();
    EXPECT_TRUE(v[0].is_negative());

    auto dirty_addr = w("1000000000000000000000000000000000000000000000000000000000000002");
    EXPECT_FALSE(decode(one(Type::address()), dirty_addr).has_value());
    EXPECT_EQ(decode(one(Type::address()), dirty_addr, {.strict = false}).value()[0].data.back(), 2);

    auto dirty_b2 = w("abcdef0000000000000000000000000000000000000000000000000000000000");
    EXPECT_FALSE(decode(one(Type::fixed_bytes(2)), dirty_b2).has_value());
    EXPECT_EQ(decode(one(Type::fixed_bytes(2)), dirty_b2, {.strict = false}).value()[0].data, w("abcd"));

    // bytes tail padding
    auto unpadded = w("0000000000000000000000000000000000000000000000000000000000000020"
                      "0000000000000000000000000000000000000000000000000000000000000002"
                      "ffff");
    EXPECT_FALSE(decode(one(Type::bytes()), unpadded).has_value());
    EXPECT_EQ(decode(one(Type::bytes()), unpadded, {.strict = false}).value()[0].data, w("ffff"));
}

TEST(AbiDecode, ExpansionBudget) {
    // uint256[][] with 300 inner arrays all pointing at the same 300-element array: 9.6 kB
    // of data that expands to 90,000 values.
    Bytes data;
    auto word = [&](std::uint64_t v) {
        auto w = to_be32(u256{v});
        data.insert(data.end(), w.begin(), w.end());
    };
    word(0x20);
    word(300);
    for (int i = 0; i < 300; ++i) word(300 * 32);  // every element's offset: the same array
    word(300);
    for (int i = 0; i < 300; ++i) word(static_cast<std::uint64_t>(i));
    auto t = std::vector<Type>{parse_type("uint256[][]").value()};
    EXPECT_TRUE(decode(t, data, {.strict = true, .max_values = 100'000}).has_value());
    auto r = decode(t, data, {.strict = true, .max_values = 50'000});
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), Errc::abi_decode);
}

// ---- events ----

TEST(AbiEvents, DecodesTransferLog) {
    auto ev = parse_event("Transfer(address indexed from, address indexed to, uint256 value)").value();
    std::vector<Hash32> topics{ev.topic0(),
                               fixed_from_hex<32>("0x000000000000000000000000aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa").value(),
                               fixed_from_hex<32>("0x000000000000000000000000bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb").value()};
    auto data = H("00000000000000000000000000000000000000000000000000000000000003e8");
    auto log = decode_log(ev, topics, data).value();
    ASSERT_EQ(log.values.size(), 3u);
    EXPECT_EQ(to_hex(log.values[0].data), "0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    EXPECT_EQ(log.values[2].number, 1000);
    EXPECT_FALSE(log.hashed[0]);
    // wrong topic0, wrong topic count
    auto bad = topics;
    bad[0][0] ^= 1;
    EXPECT_FALSE(decode_log(ev, bad, data).has_value());
    EXPECT_FALSE(decode_log(ev, std::span<const Hash32>{topics.data(), 2}, data).has_value());
}

TEST(AbiEvents, IndexedDynamicTypesAreHashes) {
    auto ev = parse_event("Named(string indexed name, uint256[] indexed ids, bytes data)").value();
    std::vector<Value> indexed{Value::string("zeppelin"), Value::array({Value::uint_(1), Value::uint_(2)})};
    auto topics = encode_topics(ev, indexed).value();
    ASSERT_EQ(topics.size(), 3u);
    // Solidity: an indexed string's topic is keccak256 of its bytes; an array's is keccak256
    // of its elements' 32-byte encodings, concatenated (no length, no offset).
    EXPECT_EQ(topics[1], keccak256(std::string_view{"zeppelin"}));
    Bytes pre = H("0000000000000000000000000000000000000000000000000000000000000001"
                  "0000000000000000000000000000000000000000000000000000000000000002");
    EXPECT_EQ(topics[2], keccak256(ByteView{pre}));

    auto data = encode(std::vector<Type>{Type::bytes()}, std::vector<Value>{Value::bytes(H("beef"))}).value();
    auto log = decode_log(ev, topics, data).value();
    EXPECT_TRUE(log.hashed[0]);
    EXPECT_TRUE(log.hashed[1]);
    EXPECT_FALSE(log.hashed[2]);
    EXPECT_EQ(log.values[0].data, to_bytes(topics[1].view()));
    EXPECT_EQ(log.values[2].data, H("beef"));
}

TEST(AbiErrors, CustomAndBuiltinReverts) {
    auto err = parse_error("InsufficientPayment(uint256 sent, uint256 needed)").value();
    auto fn = Function{err.name, err.inputs, {}};
    auto data = encode_call(fn, std::vector<Value>{Value::uint_(1), Value::uint_(2)}).value();
    auto v = decode_error(err, data).value();
    EXPECT_EQ(v[1].number, 2);
    EXPECT_FALSE(decode_error(parse_error("Other(uint256,uint256)").value(), data).has_value());

    // Error(string) "Not enough Ether provided." as in the Solidity docs (Control Structures > revert)
    auto reason = H("08c379a0"
                    "0000000000000000000000000000000000000000000000000000000000000020"
                    "000000000000000000000000000000000000000000000000000000000000001a"
                    "4e6f7420656e6f7567682045746865722070726f76696465642e000000000000");
    EXPECT_EQ(decode_builtin_revert(reason).value(), "Not enough Ether provided.");
    auto panic = H("4e487b71"
                   "0000000000000000000000000000000000000000000000000000000000000011");
    EXPECT_EQ(decode_builtin_revert(panic).value(), "panic 0x11 (arithmetic overflow or underflow)");
    EXPECT_FALSE(decode_builtin_revert(H("deadbeef")).has_value());
}

}  // namespace
}  // namespace zeppelin::eth::abi
