#include "zeppelin/node/http_server.hpp"

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wtsan"
#endif

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/raw_http.hpp"

using namespace zeppelin;
using namespace zeppelin::node;
using namespace std::chrono_literals;
using tcp = boost::asio::ip::tcp;

using test::RawClient;
using test::Reply;
using test::request;

namespace {

constexpr std::string_view kToken = "s3cret-token";

std::string bearer(std::string_view token) { return "Authorization: Bearer " + std::string{token} + "\r\n"; }

class HttpServerTest : public ::testing::Test {
protected:
    void SetUp() override {
        server_.route("GET", "/agreements/{id}", [](const Request& req) {
            return Response::json(200, {{"id", req.params.at("id")}, {"query", req.query}});
        });
        server_.route("POST", "/agreements", [](const Request& req) { return Response::json(201, {{"got", req.body}}); });
        server_.route("GET", "/logs", [](const Request&) { return Response::json(200, "log"); }, Auth::token_always);
        server_.route("GET", "/boom", [](const Request&) -> Response { throw std::runtime_error{"kaboom"}; });
        server_.route("POST", "/upload", [](const Request& req) { return Response::json(201, {{"bytes", req.body.size()}}); },
                      Auth::token_for_writes, 4096);
    }
    void start() { ASSERT_TRUE(server_.start()); }

    static HttpServerOptions options() {
        HttpServerOptions o;
        o.api_token = kToken;
        o.max_body_bytes = 64;
        return o;
    }
    HttpServer server_{options()};
};

TEST_F(HttpServerTest, RoutesWithPathParamsAndQuery) {
    start();
    const Reply r = request(server_.port(), "GET", "/agreements/a%2Fb?x=1+2%21&flag&y=");
    ASSERT_EQ(r.status, 200u) << r.body;
    EXPECT_NE(r.head.find("Content-Type: application/json"), std::string::npos);
    const auto j = nlohmann::json::parse(r.body);
    EXPECT_EQ(j["id"], "a/b");
    EXPECT_EQ(j["query"], (nlohmann::json{{"x", "1 2!"}, {"flag", ""}, {"y", ""}}));

    const Reply get = request(server_.port(), "GET", "/agreements/7");
    const Reply head = request(server_.port(), "HEAD", "/agreements/7");
    EXPECT_EQ(head.status, 200u);
    EXPECT_NE(head.head.find("Content-Length: " + std::to_string(get.body.size())), std::string::npos) << head.head;
    EXPECT_EQ(head.body, "");
}

TEST_F(HttpServerTest, AnswersNotFoundMethodNotAllowedMalformedAndTooLarge) {
    start();
    const Reply missing = request(server_.port(), "GET", "/nothing/here");
    EXPECT_EQ(missing.status, 404u);
    EXPECT_TRUE(nlohmann::json::parse(missing.body).contains("error"));

    const Reply wrong = request(server_.port(), "DELETE", "/agreements/1", {}, bearer(kToken));
    EXPECT_EQ(wrong.status, 405u);
    EXPECT_NE(wrong.head.find("Allow: GET"), std::string::npos) << wrong.head;

    EXPECT_EQ(request(server_.port(), "GET", "/agreements/%zz").status, 400u);
    EXPECT_NE(RawClient(server_.port(), "NOT A REQUEST\r\n\r\n").read_all().find("HTTP/1.1 400"), std::string::npos);
    EXPECT_NE(RawClient(server_.port(), "GET nohost HTTP/1.1\r\nConnection: close\r\n\r\n").read_all().find("HTTP/1.1 400"),
              std::string::npos);

    // The declared length alone is over the limit: refused before the body is read.
    const std::string big = "POST /agreements HTTP/1.1\r\nHost: x\r\nContent-Length: 65\r\n" + bearer(kToken) + "\r\n";
    const std::string reply = RawClient(server_.port(), big).read_all();
    EXPECT_NE(reply.find("HTTP/1.1 413"), std::string::npos) << reply;
    EXPECT_EQ(request(server_.port(), "POST", "/agreements", std::string(64, 'x'), bearer(kToken)).status, 201u);
}

TEST_F(HttpServerTest, RoutesCarryTheirOwnBodyLimit) {
    start();
    const auto up = request(server_.port(), "POST", "/upload", std::string(4096, 'u'), bearer(kToken));
    EXPECT_EQ(up.status, 201u) << up.body;
    EXPECT_EQ(nlohmann::json::parse(up.body)["bytes"], 4096);
    EXPECT_EQ(request(server_.port(), "POST", "/upload", std::string(4097, 'u'), bearer(kToken)).status, 413u);
    EXPECT_EQ(request(server_.port(), "POST", "/agreements", std::string(65, 'x'), bearer(kToken)).status, 413u)
        << "other routes keep the server's limit";
}

TEST_F(HttpServerTest, RefusalsComeBeforeTheBodyIsRead) {
    start();
    // Only the head is sent, announcing a large body: without the token the answer comes at once
    // (no body is awaited, so nothing is buffered for a stranger), and the connection is closed.
    const std::string head = "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n";
    RawClient stranger{server_.port(), head};
    const std::string reply = stranger.read_all();
    EXPECT_NE(reply.find("HTTP/1.1 401"), std::string::npos) << reply;
    EXPECT_NE(reply.find("Connection: close"), std::string::npos) << reply;
    // A client that sends its whole (large) body anyway still reads the answer: the server drains
    // what arrives before it closes, instead of resetting the connection under the client.
    const Reply refused = request(server_.port(), "POST", "/upload", std::string(4u << 20, 'x'));
    EXPECT_EQ(refused.status, 401u) << refused.head;
    const Reply too_big = request(server_.port(), "POST", "/upload", std::string(4u << 20, 'x'), bearer(kToken));
    EXPECT_EQ(too_big.status, 413u) << too_big.head;
    // An unknown path is answered from the head as well.
    const std::string lost = RawClient{server_.port(), "PUT /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"}.read_all();
    EXPECT_NE(lost.find("HTTP/1.1 404"), std::string::npos) << lost;
}

TEST_F(HttpServerTest, HandlerThrowingGives500AndServerCarriesOn) {
    start();
    const Reply r = request(server_.port(), "GET", "/boom");
    EXPECT_EQ(r.status, 500u);
    EXPECT_EQ(r.body.find("kaboom"), std::string::npos);  // logged, not shown
    EXPECT_EQ(request(server_.port(), "GET", "/agreements/1").status, 200u);
}

TEST_F(HttpServerTest, WritesAndProtectedReadsNeedTheToken) {
    start();
    const std::string refusal = R"({"error":"missing or wrong API token"})";
    const Reply none = request(server_.port(), "POST", "/agreements", "{}");
    EXPECT_EQ(none.status, 401u);
    EXPECT_EQ(none.body, refusal);
    EXPECT_EQ(request(server_.port(), "POST", "/agreements", "{}", bearer("s3cret-tokeN")).status, 401u);
    EXPECT_EQ(request(server_.port(), "POST", "/agreements", "{}", bearer("s3cret-token-longer")).status, 401u);
    EXPECT_EQ(request(server_.port(), "POST", "/agreements", "{}", "Authorization: s3cret-token\r\n").status, 401u);
    const Reply ok = request(server_.port(), "POST", "/agreements", "{}", "authorization: bearer s3cret-token\r\n");
    EXPECT_EQ(ok.status, 201u);
    EXPECT_EQ(nlohmann::json::parse(ok.body)["got"], "{}");

    EXPECT_EQ(request(server_.port(), "GET", "/logs").status, 401u);
    EXPECT_EQ(request(server_.port(), "GET", "/logs", {}, bearer(kToken)).status, 200u);
}

TEST(HttpServer, EmptyTokenRefusesEveryWrite) {
    HttpServer server{HttpServerOptions{}};
    server.route("POST", "/x", [](const Request&) { return Response::json(200, nullptr); });
    ASSERT_TRUE(server.start());
    EXPECT_EQ(request(server.port(), "POST", "/x", {}, "Authorization: Bearer \r\n").status, 401u);
}

TEST_F(HttpServerTest, StreamsIncrementallyWithoutBlockingOthers) {
    std::promise<void> go_on;
    auto go_on_future = go_on.get_future().share();
    server_.route("GET", "/follow", [&](const Request&) {
        return Response::streaming("text/event-stream", [go_on_future](const ChunkWriter& write) {
            write(sse_event("one", "line"));
            while (go_on_future.wait_for(10ms) != std::future_status::ready)
                if (!write({})) return;
            write(sse_event("two\nthree"));
        });
    });
    start();
    RawClient stream(server_.port(), "GET /follow HTTP/1.1\r\nHost: x\r\n\r\n");
    const std::string first = stream.read_until("data: one");
    EXPECT_NE(first.find("Transfer-Encoding: chunked"), std::string::npos) << first;
    EXPECT_NE(first.find("Content-Type: text/event-stream"), std::string::npos) << first;
    EXPECT_NE(first.find("event: line\ndata: one\n\n"), std::string::npos) << first;
    EXPECT_EQ(first.find("two"), std::string::npos);

    EXPECT_EQ(request(server_.port(), "GET", "/agreements/2").status, 200u);  // while the stream is open

    go_on.set_value();
    const std::string all = stream.read_all();
    EXPECT_NE(all.find("data: two\ndata: three\n\n"), std::string::npos) << all;
    EXPECT_TRUE(all.ends_with("\r\n0\r\n\r\n")) << all;
}

TEST_F(HttpServerTest, FallibleStreamFailsAsAnAnswerBeforeItsOutputAndAsATrailerAfter) {
    server_.route("GET", "/early", [](const Request&) {
        return Response::fallible_stream("text/plain", [](const ChunkWriter& write) -> Result<void> {
            if (!write({})) return {};  // a check of the connection sends nothing, not even the head
            return make_error(Errc::not_found, "agreement 9 is not known to this node");
        });
    });
    server_.route("GET", "/late", [](const Request&) {
        return Response::fallible_stream("text/plain", [](const ChunkWriter& write) -> Result<void> {
            write("some output\n");
            return make_error(Errc::io, "the worker went away\nmid-stream");
        });
    });
    server_.route("GET", "/fine", [](const Request&) {
        return Response::fallible_stream("text/plain", [](const ChunkWriter&) -> Result<void> { return {}; });
    });
    start();
    const auto early = request(server_.port(), "GET", "/early");
    EXPECT_EQ(early.status, 404u) << early.body;
    EXPECT_NE(early.body.find("agreement 9 is not known"), std::string::npos) << early.body;

    RawClient late(server_.port(), "GET /late HTTP/1.1\r\nHost: x\r\nTE: trailers\r\n\r\n");
    const auto all = late.read_all();
    EXPECT_NE(all.find("HTTP/1.1 200"), std::string::npos) << all;
    EXPECT_NE(all.find("some output\n"), std::string::npos) << all;
    EXPECT_NE(all.find("\r\n0\r\nZeppelin-Error: the worker went away mid-stream\r\n\r\n"), std::string::npos) << all;

    RawClient fine(server_.port(), "GET /fine HTTP/1.1\r\nHost: x\r\n\r\n");
    const auto empty = fine.read_all();
    EXPECT_NE(empty.find("HTTP/1.1 200"), std::string::npos) << empty;
    EXPECT_TRUE(empty.ends_with("\r\n0\r\n\r\n")) << empty;
}

TEST_F(HttpServerTest, WriterSeesClientDisconnectAndStop) {
    std::promise<int> ended;
    std::atomic<int> streams{0};
    server_.route("GET", "/ticks", [&](const Request&) {
        return Response::streaming("text/plain", [&](const ChunkWriter& write) {
            const int n = ++streams;
            while (write("tick\n")) std::this_thread::sleep_for(5ms);
            if (n == 1) ended.set_value(n);
        });
    });
    start();
    {
        RawClient client(server_.port(), "GET /ticks HTTP/1.1\r\nHost: x\r\n\r\n");
        client.read_until("tick");
        client.close();
    }
    auto first = ended.get_future();
    ASSERT_EQ(first.wait_for(5s), std::future_status::ready);

    RawClient second(server_.port(), "GET /ticks HTTP/1.1\r\nHost: x\r\n\r\n");
    second.read_until("tick");
    const auto t0 = std::chrono::steady_clock::now();
    server_.stop();  // must end the second stream too
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
    EXPECT_EQ(streams.load(), 2);
}

TEST_F(HttpServerTest, ServesStaticFilesAndRefusesTraversal) {
    const auto root = std::filesystem::temp_directory_path() / ("zp-http-" + std::to_string(::getpid()));
    std::filesystem::create_directories(root / "ui" / "sub");
    auto put = [&](const std::filesystem::path& p, std::string_view text) { std::ofstream{root / p} << text; };
    put("secret.txt", "SECRET");
    put("ui/index.html", "<h1>hi</h1>");
    put("ui/app.js", "let a;");
    put("ui/style.css", "b{}");
    put("ui/logo.svg", "<svg/>");
    put("ui/sub/index.html", "sub");
    std::filesystem::create_symlink(root / "secret.txt", root / "ui" / "link.txt");
    server_.serve_static("/ui/", root / "ui");
    start();
    const std::uint16_t port = server_.port();

    const Reply index = request(port, "GET", "/ui/");
    EXPECT_EQ(index.status, 200u);
    EXPECT_EQ(index.body, "<h1>hi</h1>");
    EXPECT_NE(index.head.find("Content-Type: text/html"), std::string::npos);
    EXPECT_NE(request(port, "GET", "/ui/app.js").head.find("Content-Type: text/javascript"), std::string::npos);
    EXPECT_NE(request(port, "GET", "/ui/style.css").head.find("Content-Type: text/css"), std::string::npos);
    EXPECT_NE(request(port, "GET", "/ui/logo.svg").head.find("Content-Type: image/svg+xml"), std::string::npos);
    EXPECT_EQ(request(port, "GET", "/ui/sub/").body, "sub");
    const Reply redirect = request(port, "GET", "/ui/sub");
    EXPECT_EQ(redirect.status, 301u);
    EXPECT_NE(redirect.head.find("Location: /ui/sub/"), std::string::npos);
    EXPECT_EQ(request(port, "GET", "/ui/missing.js").status, 404u);
    EXPECT_EQ(request(port, "POST", "/ui/app.js", {}, bearer(kToken)).status, 405u);

    for (const char* evil : {"/ui/../secret.txt", "/ui/%2e%2e/secret.txt", "/ui/%2E%2E%2Fsecret.txt", "/ui/sub/..%2F..%2Fsecret.txt",
                             "/ui/..%5csecret.txt", "/ui/./app.js", "/ui/link.txt"}) {
        const Reply r = request(port, "GET", evil);
        EXPECT_TRUE(r.status == 400u || r.status == 404u) << evil << " -> " << r.status;
        EXPECT_EQ(r.body.find("SECRET"), std::string::npos) << evil;
    }
    std::filesystem::remove_all(root);
}

TEST(HttpServer, ReportsAPortInUse) {
    HttpServer first{HttpServerOptions{}};
    ASSERT_TRUE(first.start());
    HttpServerOptions options;
    options.port = first.port();
    HttpServer second{options};
    const auto r = second.start();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::io);
}

TEST(HttpServer, GeneratesRandomTokensAndComparesSecrets) {
    const std::string a = generate_api_token().value();
    EXPECT_EQ(a.size(), 64u);
    EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_NE(a, generate_api_token().value());
    EXPECT_TRUE(secrets_equal(a, a));
    EXPECT_FALSE(secrets_equal(a, a.substr(1)));
    EXPECT_FALSE(secrets_equal("abc", "abd"));
}

}  // namespace
