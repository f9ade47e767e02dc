// The JSON-RPC client against a tiny local HTTP server (real sockets) that misbehaves on
// purpose: garbage, HTML, wrong ids, HTTP 500, hangs, dropped connections, oversized replies,
// and a node limiting eth_getLogs results.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/eth/keccak.hpp"
#include "zeppelin/eth/rpc.hpp"

namespace zeppelin::eth {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

std::string http_reply(int status, std::string_view reason, std::string_view content_type, std::string_view body,
                       bool close = false) {
    std::string r = "HTTP/1.1 " + std::to_string(status) + " " + std::string{reason} + "\r\nContent-Type: " +
                    std::string{content_type} + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    if (close) r += "Connection: close\r\n";
    r += "\r\n";
    r += body;
    return r;
}
std::string ok_json(const json& j) { return http_reply(200, "OK", "application/json", j.dump()); }
std::string result_for(const json& req, json result) {
    return ok_json(json{{"jsonrpc", "2.0"}, {"id", req["id"]}, {"result", std::move(result)}});
}
std::string error_for(const json& req, int code, std::string message) {
    return ok_json(json{{"jsonrpc", "2.0"}, {"id", req["id"]}, {"error", {{"code", code}, {"message", message}}}});
}

/// A one-thread HTTP server on 127.0.0.1. The handler returns the raw bytes to answer with;
/// kClose closes the connection without answering, kHang never answers.
class FakeNode final {
public:
    static constexpr std::string_view kClose = "\x01close";
    static constexpr std::string_view kHang = "\x01hang";
    static constexpr std::string_view kDrop = "\x01drop";  // prefix: send the rest, then close silently
    using Handler = std::function<std::string(const json& request)>;

    explicit FakeNode(Handler h) : handler_{std::move(h)} {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0)
            throw std::runtime_error{"cannot listen"};
        socklen_t len = sizeof a;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        thread_ = std::thread{[this] { serve(); }};
    }
    ~FakeNode() {
        {
            std::lock_guard lock{m_};
            stop_ = true;
        }
        cv_.notify_all();
        thread_.join();
        ::close(fd_);
    }
    FakeNode(const FakeNode&) = delete;
    FakeNode& operator=(const FakeNode&) = delete;

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    int connections() const { return connections_.load(); }
    int requests() const { return requests_.load(); }

private:
    bool stopping() {
        std::lock_guard lock{m_};
        return stop_;
    }
    // Waits for readability with a short poll so that stop is noticed.
    bool wait_readable(int fd) {
        while (!stopping()) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 20) > 0) return true;
        }
        return false;
    }
    void serve() {
        while (wait_readable(fd_)) {
            const int c = ::accept(fd_, nullptr, nullptr);
            if (c < 0) continue;
            ++connections_;
            handle(c);
            ::close(c);
        }
    }
    void handle(int c) {
        std::string buf;
        for (;;) {
            // Read one request: headers, then Content-Length bytes.
            std::size_t header_end;
            while ((header_end = buf.find("\r\n\r\n")) == std::string::npos) {
                if (!wait_readable(c)) return;
                char tmp[4096];
                const auto n = ::recv(c, tmp, sizeof tmp, 0);
                if (n <= 0) return;
                buf.append(tmp, static_cast<std::size_t>(n));
            }
            std::size_t length = 0;
            const auto cl = buf.find("Content-Length: ");
            if (cl != std::string::npos && cl < header_end) length = std::stoul(buf.substr(cl + 16));
            while (buf.size() < header_end + 4 + length) {
                if (!wait_readable(c)) return;
                char tmp[4096];
                const auto n = ::recv(c, tmp, sizeof tmp, 0);
                if (n <= 0) return;
                buf.append(tmp, static_cast<std::size_t>(n));
            }
            const std::string body = buf.substr(header_end + 4, length);
            buf.erase(0, header_end + 4 + length);
            ++requests_;
            const std::string reply = handler_(json::parse(body));
            if (reply == kClose) return;
            if (reply == kHang) {
                std::unique_lock lock{m_};
                cv_.wait(lock, [&] { return stop_; });
                return;
            }
            const bool drop = reply.starts_with(kDrop);
            std::size_t sent = drop ? kDrop.size() : 0;
            while (sent < reply.size()) {
                const auto n = ::send(c, reply.data() + sent, reply.size() - sent, MSG_NOSIGNAL);
                if (n <= 0) return;
                sent += static_cast<std::size_t>(n);
            }
            if (drop || reply.find("Connection: close") != std::string::npos) return;
        }
    }

    Handler handler_;
    int fd_{-1};
    std::uint16_t port_{0};
    std::thread thread_;
    std::mutex m_;
    std::condition_variable cv_;
    bool stop_{false};
    std::atomic<int> connections_{0};
    std::atomic<int> requests_{0};
};

RpcOptions quick() {
    RpcOptions o;
    o.max_retries = 0;
    o.http.request_timeout = 300ms;
    return o;
}

Error fails_with(const std::string& url, Errc code, RpcOptions o = quick()) {
    auto rpc = RpcClient::connect(url, o).value();
    auto r = rpc->chain_id();
    EXPECT_FALSE(r);
    if (r) return Error{Errc::internal, "succeeded"};
    EXPECT_EQ(r.error().code(), code) << r.error().message();
    return r.error();
}

TEST(RpcBadReply, Garbage) {
    FakeNode node{[](const json&) { return std::string{"hello, I am not a web server\r\n\r\n"}; }};
    const auto e = fails_with(node.url(), Errc::rpc_bad_reply);
    EXPECT_NE(e.message().find("not valid HTTP"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find(node.url()), std::string::npos) << e.message();
}

TEST(RpcBadReply, Html) {
    FakeNode node{[](const json&) {
        return http_reply(200, "OK", "text/html", "<html><body><h1>Welcome to nginx!</h1></body></html>");
    }};
    const auto e = fails_with(node.url(), Errc::rpc_bad_reply);
    EXPECT_NE(e.message().find("not JSON (it starts with \"<html><body><h1>Welcome"), std::string::npos) << e.message();
}

TEST(RpcBadReply, WrongId) {
    FakeNode node{[](const json&) { return ok_json(json{{"jsonrpc", "2.0"}, {"id", 424242}, {"result", "0x1"}}); }};
    const auto e = fails_with(node.url(), Errc::rpc_bad_reply);
    EXPECT_NE(e.message().find("reply id 424242 does not match the request id"), std::string::npos) << e.message();
}

TEST(RpcBadReply, Http500) {
    FakeNode node{[](const json&) { return http_reply(500, "Internal Server Error", "text/plain", "boom"); }};
    const auto e = fails_with(node.url(), Errc::rpc_bad_reply);
    EXPECT_NE(e.message().find("HTTP 500 Internal Server Error (body: \"boom\")"), std::string::npos) << e.message();
}

TEST(RpcBadReply, MissingResultAndBadTypes) {
    FakeNode node{[](const json& req) {
        if (req["method"] == "eth_chainId") return ok_json(json{{"jsonrpc", "2.0"}, {"id", req["id"]}});
        return result_for(req, 12);  // a number where a hex string belongs
    }};
    const auto e = fails_with(node.url(), Errc::rpc_bad_reply);
    EXPECT_NE(e.message().find("neither \"result\" nor \"error\""), std::string::npos) << e.message();
    auto rpc = RpcClient::connect(node.url(), quick()).value();
    auto b = rpc->block_number();
    ASSERT_FALSE(b);
    EXPECT_EQ(b.error().code(), Errc::rpc_bad_reply);
}

TEST(RpcBadReply, ErrorObject) {
    FakeNode node{[](const json& req) { return error_for(req, -32601, "the method eth_chainId does not exist"); }};
    const auto e = fails_with(node.url(), Errc::rpc_error);
    EXPECT_EQ(e.message(), "eth_chainId failed: the node returned error -32601: the method eth_chainId does not exist");
}

TEST(RpcBadReply, HangIsATimeout) {
    FakeNode node{[](const json&) { return std::string{FakeNode::kHang}; }};
    const auto t0 = std::chrono::steady_clock::now();
    const auto e = fails_with(node.url(), Errc::timeout);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
    EXPECT_NE(e.message().find("did not answer eth_chainId: no reply within 300 ms"), std::string::npos) << e.message();
}

TEST(RpcBadReply, DroppedConnection) {
    FakeNode node{[](const json&) { return std::string{FakeNode::kClose}; }};
    const auto e = fails_with(node.url(), Errc::rpc_unreachable);
    EXPECT_NE(e.message().find("closed the connection before replying"), std::string::npos) << e.message();
}

TEST(RpcBadReply, OversizedReply) {
    FakeNode node{[](const json& req) { return result_for(req, std::string(5000, 'a')); }};
    auto o = quick();
    o.http.max_reply_bytes = 1000;
    const auto e = fails_with(node.url(), Errc::rpc_bad_reply, o);
    EXPECT_NE(e.message().find("larger than the 1000-byte limit"), std::string::npos) << e.message();
}

TEST(RpcTransport, KeepAliveReusesOneConnection) {
    FakeNode node{[](const json& req) { return result_for(req, "0x7a69"); }};
    auto rpc = RpcClient::connect(node.url(), quick()).value();
    for (int i = 0; i < 20; ++i) ASSERT_EQ(rpc->chain_id().value(), 31337u);
    EXPECT_EQ(node.requests(), 20);
    EXPECT_EQ(node.connections(), 1);
}

TEST(RpcTransport, ServerClosingIdleConnectionsIsTransparent) {
    // Replies without "Connection: close" and then drops the connection: the next request
    // finds the pooled connection dead and must quietly use a new one, even without retries.
    FakeNode node{[&](const json& req) { return std::string{FakeNode::kDrop} + result_for(req, "0x1"); }};
    auto rpc = RpcClient::connect(node.url(), quick()).value();
    for (int i = 0; i < 5; ++i) {
        auto r = rpc->block_number();
        ASSERT_TRUE(r) << r.error().message();
        std::this_thread::sleep_for(std::chrono::milliseconds{20});  // let the close arrive
    }
    EXPECT_EQ(node.requests(), 5);
    EXPECT_EQ(node.connections(), 5);
}

TEST(RpcTransport, OverloadedNodeIsRetried) {
    std::atomic<int> calls{0};
    FakeNode node{[&](const json& req) {
        if (++calls <= 2) return http_reply(503, "Service Unavailable", "text/plain", "busy");
        return result_for(req, "0x10");
    }};
    auto o = quick();
    o.max_retries = 3;
    o.backoff_initial = 10ms;
    auto rpc = RpcClient::connect(node.url(), o).value();
    EXPECT_EQ(rpc->block_number().value(), 16u);
    EXPECT_EQ(calls.load(), 3);
}

TEST(RpcTransport, NonIdempotentCallIsNotRepeatedAfterItWasSent) {
    std::atomic<int> calls{0};
    FakeNode node{[&](const json&) {
        ++calls;
        return std::string{FakeNode::kClose};
    }};
    auto o = quick();
    o.max_retries = 3;
    o.backoff_initial = 10ms;
    auto rpc = RpcClient::connect(node.url(), o).value();
    auto r = rpc->request("evm_mine", json::array(), Idempotent::no);
    ASSERT_FALSE(r);
    EXPECT_EQ(calls.load(), 1);
    auto r2 = rpc->request("eth_blockNumber", json::array(), Idempotent::yes);
    ASSERT_FALSE(r2);
    EXPECT_EQ(calls.load(), 1 + 4);
    EXPECT_NE(r2.error().message().find("4 attempts"), std::string::npos) << r2.error().message();
}

TEST(RpcLogs, LimitedNodeMakesTheClientHalveTheRange) {
    // A node that refuses ranges wider than 4 blocks, as Infura/Alchemy-style limits do, and
    // returns one log per block.
    std::vector<std::pair<std::uint64_t, std::uint64_t>> asked;
    std::mutex m;
    FakeNode node{[&](const json& req) {
        const auto& q = req["params"][0];
        const auto from = std::stoull(q["fromBlock"].get<std::string>(), nullptr, 16);
        const auto to = std::stoull(q["toBlock"].get<std::string>(), nullptr, 16);
        {
            std::lock_guard lock{m};
            asked.emplace_back(from, to);
        }
        if (to - from + 1 > 4) return error_for(req, -32005, "query returned more than 10000 results");
        json logs = json::array();
        for (auto b = from; b <= to; ++b) {
            logs.push_back({{"address", "0x" + std::string(40, '1')},
                            {"topics", json::array({"0x" + std::string(64, 'a')})},
                            {"data", "0x"},
                            {"blockNumber", to_hex_quantity(b)},
                            {"blockHash", "0x" + std::string(64, 'b')},
                            {"transactionHash", "0x" + std::string(64, 'c')},
                            {"transactionIndex", "0x0"},
                            {"logIndex", "0x0"},
                            {"removed", false}});
        }
        return result_for(req, logs);
    }};
    auto rpc = RpcClient::connect(node.url(), quick()).value();
    LogFilter f;
    f.from_block = 10;
    f.to_block = 45;
    auto logs = rpc->get_logs(f, 20);
    ASSERT_TRUE(logs) << logs.error().message();
    ASSERT_EQ(logs->size(), 36u);
    for (std::size_t i = 0; i < logs->size(); ++i) EXPECT_EQ((*logs)[i].block_number, 10 + i);
    // 10..29 refused, 10..19 refused, 10..14 refused, then chunks of 2 (5/2) ... all covered once.
    EXPECT_EQ(asked.front(), (std::pair<std::uint64_t, std::uint64_t>{10, 29}));
    std::uint64_t covered = 0;
    for (const auto& [a, b] : asked)
        if (b - a + 1 <= 4) covered += b - a + 1;
    EXPECT_EQ(covered, 36u);
}

TEST(RpcSend, AlreadyKnownCountsAsSuccess) {
    FakeNode node{[](const json& req) { return error_for(req, -32000, "already known"); }};
    auto rpc = RpcClient::connect(node.url(), quick()).value();
    const Bytes raw{0x02, 0xc0};
    auto h = rpc->send_raw_transaction(raw);
    ASSERT_TRUE(h) << h.error().message();
    EXPECT_EQ(*h, keccak256(raw));
}

TEST(RpcSend, NonceTooLowForAnotherTransactionIsAnError) {
    FakeNode node{[](const json& req) {
        if (req["method"] == "eth_getTransactionByHash") return result_for(req, nullptr);
        return error_for(req, -32003, "nonce too low");
    }};
    auto rpc = RpcClient::connect(node.url(), quick()).value();
    auto h = rpc->send_raw_transaction(Bytes{0x02, 0xc0});
    ASSERT_FALSE(h);
    EXPECT_EQ(h.error().code(), Errc::rpc_error);
    EXPECT_NE(h.error().message().find("nonce too low"), std::string::npos);
}

TEST(RpcEstimateGas, AsksAtThePendingBlock) {
    // Like the transaction it prices, the estimate is judged at the next block (its timestamp),
    // not at "latest", which on a chain that mines on demand may be minutes old.
    FakeNode node{[](const json& req) {
        const auto& p = req["params"];
        if (p.size() == 2 && p[1] == "pending") return result_for(req, "0x5208");
        return error_for(req, -32602, "expected [call, \"pending\"], got " + p.dump());
    }};
    auto rpc = RpcClient::connect(node.url(), quick()).value();
    auto gas = rpc->estimate_gas(CallRequest{std::nullopt, Address{}, {}, std::nullopt, std::nullopt});
    ASSERT_TRUE(gas) << gas.error().message();
    EXPECT_EQ(*gas, 21000u);
}

TEST(RpcGetTransaction, NodeAnsweringWithAnotherTransactionIsCaught) {
    // The mainnet transaction 0x0ec0b6a2... (src/zeppelin/eth/transaction_test.cpp), self-consistent:
    // whatever hash is asked for, this node answers with it.
    const json mainnet = json::parse(R"({
      "type":"0x2","chainId":"0x1","nonce":"0x42","maxPriorityFeePerGas":"0x3b9aca00","maxFeePerGas":"0x4a817c800",
      "gas":"0xad62","to":"0x6069a6c32cf691f5982febae4faf8a6f3ab2f0f6","value":"0x0",
      "input":"0xa22cb4650000000000000000000000005eee75727d804a2b13038928d36f8b188945a57a0000000000000000000000000000000000000000000000000000000000000000",
      "accessList":[],"yParity":"0x0",
      "r":"0x840cfc572845f5786e702984c2a582528cad4b49b2a10b9db1be7fca90058565",
      "s":"0x25e7109ceb98168d95b09b18bbf6b685130e0562f233877d492b94eee0c5b6d1",
      "hash":"0x0ec0b6a2df4d87424e5f6ad2a654e27aaeb7dac20ae9e8385cc09087ad532ee0",
      "from":"0xdd6b8b3dc6b7ad97db52f08a275ff4483e024cea","blockNumber":null,"blockHash":null,"transactionIndex":null})");
    FakeNode node{[&](const json& req) { return result_for(req, mainnet); }};
    auto rpc = RpcClient::connect(node.url(), quick()).value();
    const Hash32 real = fixed_from_hex<32>(mainnet["hash"].get<std::string>()).value();
    auto ok = rpc->get_transaction(real);
    ASSERT_TRUE(ok) << ok.error().message();
    ASSERT_TRUE(ok->has_value());
    EXPECT_EQ((*ok)->hash, real);
    EXPECT_FALSE((*ok)->block_number);

    Hash32 asked = real;
    asked[0] ^= 1;
    auto lie = rpc->get_transaction(asked);
    ASSERT_FALSE(lie);
    EXPECT_EQ(lie.error().code(), Errc::rpc_bad_reply);
    EXPECT_NE(lie.error().message().find("transaction fields do not hash to " + to_hex(asked)), std::string::npos)
        << lie.error().message();
}

}  // namespace
}  // namespace zeppelin::eth
