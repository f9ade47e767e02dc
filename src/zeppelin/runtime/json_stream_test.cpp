#include "zeppelin/runtime/json_stream.hpp"

#include <gtest/gtest.h>

namespace zeppelin::runtime {
namespace {

TEST(JsonStream, SplitsBackToBackAndNewlineSeparatedObjects) {
    auto v = split_json_stream("{\"a\":1}{\"b\":\"}{\\\"\"}\n\n{\"c\":[1,{\"d\":2}]}\r\n");
    ASSERT_TRUE(v) << v.error().message();
    ASSERT_EQ(v->size(), 3u);
    EXPECT_EQ((*v)[0]["a"], 1);
    EXPECT_EQ((*v)[1]["b"], "}{\"");
    EXPECT_EQ((*v)[2]["c"][1]["d"], 2);
}

TEST(JsonStream, IncrementalFeedAcrossAnyCut) {
    const std::string text = R"({"status":"die","Actor":{"Attributes":{"x":"a{b"}}}
{"status":"start"})";
    for (std::size_t cut = 0; cut <= text.size(); ++cut) {
        JsonStreamSplitter s;
        auto first = s.feed(text.substr(0, cut));
        ASSERT_TRUE(first);
        auto second = s.feed(text.substr(cut));
        ASSERT_TRUE(second);
        EXPECT_EQ(first->size() + second->size(), 2u) << "cut at " << cut;
        EXPECT_TRUE(s.idle());
    }
}

TEST(JsonStream, RejectsGarbage) {
    auto v = split_json_stream("<html>502 Bad Gateway</html>");
    ASSERT_FALSE(v);
    EXPECT_EQ(v.error().code(), Errc::engine_error);
    EXPECT_NE(v.error().message().find("502 Bad Gateway"), std::string::npos);
    EXPECT_FALSE(split_json_stream("{\"a\":1"));     // truncated
    EXPECT_FALSE(split_json_stream("{\"a\":tru}"));  // malformed inside
}

TEST(LoadReply, Podman) {
    auto r = parse_load_reply(R"({"stream":"Loaded image: localhost/zprt/busybox:t1"})");
    ASSERT_TRUE(r) << r.error().message();
    ASSERT_EQ(r->names.size(), 1u);
    EXPECT_EQ(r->names[0], "localhost/zprt/busybox:t1");
    EXPECT_TRUE(r->ids.empty());
}

TEST(LoadReply, PodmanSeveralNamesAndBareId) {
    auto r = parse_load_reply(
        R"({"stream":"Loaded image: localhost/a:1,localhost/b:2"})"
        "\n"
        R"({"stream":"Loaded image: 3d6fd17486ecc848f9422bc442dc56046e0b11c4947b24c9dad6dd7203687ba0\n"})");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->names, (std::vector<std::string>{"localhost/a:1", "localhost/b:2"}));
    EXPECT_EQ(r->ids,
              (std::vector<std::string>{"sha256:3d6fd17486ecc848f9422bc442dc56046e0b11c4947b24c9dad6dd7203687ba0"}));
}

TEST(LoadReply, DockerProgressThenIds) {
    // Docker Engine API, POST /images/load: progress messages then "Loaded image ..." lines.
    auto r = parse_load_reply(
        "{\"status\":\"Loading "
        "layer\",\"progressDetail\":{\"current\":32768,\"total\":1996800},\"id\":\"3cde7545fbfe\"}\r\n"
        "{\"stream\":\"Loaded image ID: "
        "sha256:3d6fd17486ecc848f9422bc442dc56046e0b11c4947b24c9dad6dd7203687ba0\\n\"}\r\n");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(r->names.empty());
    ASSERT_EQ(r->ids.size(), 1u);
    EXPECT_EQ(r->ids[0], "sha256:3d6fd17486ecc848f9422bc442dc56046e0b11c4947b24c9dad6dd7203687ba0");
}

TEST(LoadReply, ErrorInStream) {
    auto r = parse_load_reply(R"({"errorDetail":{"message":"unexpected EOF"},"error":"unexpected EOF"})");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::engine_error);
    EXPECT_EQ(r.error().message(), "image load failed: unexpected EOF");
    auto e = parse_load_reply(R"({"error":"open /var/tmp/x: no space left on device"})");
    ASSERT_FALSE(e);
    EXPECT_NE(e.error().message().find("no space left"), std::string::npos);
}

TEST(LoadReply, NothingLoadedIsAnError) {
    auto r = parse_load_reply(R"({"stream":"hello"})");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("names no loaded image"), std::string::npos);
    EXPECT_FALSE(parse_load_reply(""));
    EXPECT_FALSE(parse_load_reply("not json"));
}

TEST(EngineMessage, ExtractsMessageOrRawText) {
    EXPECT_EQ(
        engine_message(R"({"cause":"no such container","message":"no container with name \"x\"","response":404})"),
        "no container with name \"x\"");
    EXPECT_EQ(engine_message("  plain text\n"), "plain text");
    EXPECT_EQ(engine_message(""), "(empty reply)");
}

}  // namespace
}  // namespace zeppelin::runtime
