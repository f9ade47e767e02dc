// HttpConnection against a tiny in-test server over real sockets (TCP on 127.0.0.1 and a unix
// socket): the server reads the raw request bytes and answers with canned raw bytes, so both
// what the client sends and how it reads are checked at the byte level.
#include "zeppelin/net/http_client.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

namespace zeppelin::net {
namespace {

using namespace std::chrono_literals;

void send_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const auto n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n <= 0) return;
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

/// Reads one request: the head, then a Content-Length body or a chunked body up to its last chunk.
std::string read_request(int fd) {
    std::string in;
    char buf[4096];
    auto more = [&] {
        const auto n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return false;
        in.append(buf, static_cast<std::size_t>(n));
        return true;
    };
    while (in.find("\r\n\r\n") == std::string::npos)
        if (!more()) return in;
    const auto head_end = in.find("\r\n\r\n") + 4;
    const auto head = in.substr(0, head_end);
    if (head.find("Transfer-Encoding: chunked") != std::string::npos) {
        while (in.find("0\r\n\r\n", head_end) == std::string::npos)
            if (!more()) return in;
    } else if (auto at = head.find("Content-Length: "); at != std::string::npos) {
        const auto length = std::stoul(head.substr(at + 16));
        while (in.size() < head_end + length)
            if (!more()) return in;
    }
    return in;
}

/// Binds a TCP socket to a free port of 127.0.0.1 and returns the port.
std::uint16_t bind_loopback(int fd) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    return ntohs(a.sin_port);
}

/// Listens on a TCP port of 127.0.0.1 or a unix socket and runs `script` on each accepted
/// connection in turn, on its own thread.
class TinyServer {
  public:
    using Script = std::function<void(int fd)>;

    static std::unique_ptr<TinyServer> tcp(Script script, int connections = 1) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const auto port = bind_loopback(fd);
        auto s = std::unique_ptr<TinyServer>(new TinyServer{fd, std::move(script), connections});
        s->endpoint_ = TcpEndpoint{"127.0.0.1", port};
        return s;
    }

    static std::unique_ptr<TinyServer> unix_socket(Script script, int connections = 1) {
        const auto path = std::filesystem::temp_directory_path() /
                          ("zp-net-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++) + ".sock");
        std::filesystem::remove(path);
        const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
        EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        auto s = std::unique_ptr<TinyServer>(new TinyServer{fd, std::move(script), connections});
        s->endpoint_ = UnixEndpoint{path.string()};
        s->path_ = path;
        return s;
    }

    ~TinyServer() {
        ::shutdown(listen_fd_, SHUT_RDWR);
        if (thread_.joinable()) thread_.join();
        ::close(listen_fd_);
        if (!path_.empty()) std::filesystem::remove(path_);
    }

    [[nodiscard]] const Endpoint& endpoint() const { return endpoint_; }

  private:
    TinyServer(int fd, Script script, int connections) : listen_fd_{fd} {
        EXPECT_EQ(::listen(fd, 4), 0);
        thread_ = std::thread([this, script = std::move(script), connections] {
            for (int i = 0; i < connections; ++i) {
                const int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
                if (c < 0) return;
                script(c);
                ::close(c);
            }
        });
    }

    static inline std::atomic<int> counter_{0};
    int listen_fd_;
    Endpoint endpoint_;
    std::filesystem::path path_;
    std::thread thread_;
};

/// A script that reads one request (into *seen when given) and answers `reply` verbatim.
TinyServer::Script answer(std::string reply, std::string* seen = nullptr) {
    return [reply = std::move(reply), seen](int fd) {
        auto request = read_request(fd);
        if (seen != nullptr) *seen = std::move(request);
        send_all(fd, reply);
    };
}

Request make_request(std::string method, std::string target, std::string host = "h", std::string body = {},
                     bool keep_alive = true) {
    Request r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.fields = {{"Host", std::move(host)}};
    r.body = std::move(body);
    r.keep_alive = keep_alive;
    return r;
}

/// Connects `c` to `server`, sends a GET and reads the reply's head.
std::variant<ResponseHead, Failure> get(HttpConnection& c, const TinyServer& server, Deadline deadline) {
    if (auto f = c.connect(server.endpoint(), 2s)) return *f;
    if (auto f = c.write(make_request("GET", "/"), deadline)) return *f;
    return c.read_head(deadline);
}

std::string body_of(std::variant<std::string, Failure> r) {
    if (auto* f = std::get_if<Failure>(&r)) {
        ADD_FAILURE() << "read_body failed: " << f->message;
        return {};
    }
    return std::get<std::string>(std::move(r));
}

TEST(HttpConnection, PostsOverTcpAndReadsAContentLengthReply) {
    std::string seen;
    auto server = TinyServer::tcp(
        answer("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}", &seen));
    HttpConnection c;
    ASSERT_FALSE(c.connect(server->endpoint(), 2s));
    EXPECT_TRUE(c.is_open());
    const auto deadline = deadline_after(10s);
    auto req = make_request("POST", "/rpc?x=1", "h:1", "hello");
    req.fields.emplace_back("Content-Type", "text/plain");
    ASSERT_FALSE(c.write(req, deadline));
    auto head = c.read_head(deadline);
    ASSERT_TRUE(std::holds_alternative<ResponseHead>(head)) << std::get<Failure>(head).message;
    const auto& h = std::get<ResponseHead>(head);
    EXPECT_EQ(h.status, 200u);
    EXPECT_EQ(h.reason, "OK");
    EXPECT_EQ(h.content_type, "application/json");
    EXPECT_EQ(h.content_length, 11u);
    EXPECT_TRUE(h.keep_alive);
    EXPECT_EQ(body_of(c.read_body(1024, deadline)), "{\"ok\":true}");
    EXPECT_TRUE(c.body_done());
    server.reset();
    EXPECT_EQ(seen.rfind("POST /rpc?x=1 HTTP/1.1\r\n", 0), 0u) << seen;
    EXPECT_NE(seen.find("Host: h:1\r\n"), std::string::npos);
    EXPECT_NE(seen.find("Content-Length: 5\r\n"), std::string::npos);
    EXPECT_EQ(seen.substr(seen.size() - 5), "hello");
    EXPECT_EQ(seen.find("Connection:"), std::string::npos);  // keep-alive is HTTP/1.1's default
}

TEST(HttpConnection, StreamsAChunkedReplyOverAUnixSocketPieceByPiece) {
    std::string seen;
    auto server = TinyServer::unix_socket([&](int fd) {
        seen = read_request(fd);
        send_all(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        send_all(fd, "6\r\nline1\n\r\n");
        std::this_thread::sleep_for(20ms);  // arrives as a separate read
        send_all(fd, "6\r\nline2\n\r\n0\r\n\r\n");
    });
    HttpConnection c;
    ASSERT_FALSE(c.connect(server->endpoint(), 2s));
    const auto deadline = deadline_after(10s);
    ASSERT_FALSE(c.write(make_request("GET", "/logs", "docker", {}, false), deadline));
    auto head = c.read_head(deadline);
    ASSERT_TRUE(std::holds_alternative<ResponseHead>(head));
    EXPECT_EQ(std::get<ResponseHead>(head).content_length, std::nullopt);
    std::string got;
    int pieces = 0;
    char buf[4];  // smaller than a chunk: a piece never overruns the caller's buffer
    while (!c.body_done()) {
        auto p = c.read_some(buf, deadline);
        ASSERT_FALSE(p.failure) << p.failure->message;
        ASSERT_LE(p.size, sizeof buf);
        got.append(buf, p.size);
        if (p.size > 0) ++pieces;
    }
    EXPECT_EQ(got, "line1\nline2\n");
    EXPECT_GE(pieces, 3);
    server.reset();
    EXPECT_EQ(seen.rfind("GET /logs HTTP/1.1\r\n", 0), 0u) << seen;
    EXPECT_NE(seen.find("Connection: close\r\n"), std::string::npos);
    EXPECT_EQ(seen.find("Content-Length"), std::string::npos);  // an empty GET declares no body
}

TEST(HttpConnection, SendsAChunkedRequestBody) {
    std::string seen;
    auto server = TinyServer::unix_socket(answer("HTTP/1.1 204 No Content\r\n\r\n", &seen));
    HttpConnection c;
    ASSERT_FALSE(c.connect(server->endpoint(), 2s));
    const auto deadline = deadline_after(10s);
    auto req = make_request("POST", "/images/load", "docker");
    ASSERT_FALSE(c.begin_body(req, std::nullopt, deadline));
    ASSERT_FALSE(c.write_body("hello", deadline));
    ASSERT_FALSE(c.write_body("", deadline));  // nothing: an empty chunk would end the body
    ASSERT_FALSE(c.write_body(std::string(20, 'x'), deadline));
    ASSERT_FALSE(c.end_body(deadline));
    auto head = c.read_head(deadline);
    ASSERT_TRUE(std::holds_alternative<ResponseHead>(head));
    EXPECT_EQ(std::get<ResponseHead>(head).status, 204u);
    EXPECT_TRUE(c.body_done());
    server.reset();
    const auto body = seen.substr(seen.find("\r\n\r\n") + 4);
    EXPECT_NE(seen.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << seen;
    EXPECT_EQ(body, "5\r\nhello\r\n14\r\n" + std::string(20, 'x') + "\r\n0\r\n\r\n");
}

TEST(HttpConnection, SendsADeclaredLengthBodyUnframed) {
    std::string seen;
    auto server = TinyServer::tcp(answer("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", &seen));
    HttpConnection c;
    ASSERT_FALSE(c.connect(server->endpoint(), 2s));
    const auto deadline = deadline_after(10s);
    ASSERT_FALSE(c.begin_body(make_request("PUT", "/x"), 7, deadline));
    ASSERT_FALSE(c.write_body("abc", deadline));
    ASSERT_FALSE(c.write_body("defg", deadline));
    ASSERT_FALSE(c.end_body(deadline));
    ASSERT_TRUE(std::holds_alternative<ResponseHead>(c.read_head(deadline)));
    server.reset();
    EXPECT_NE(seen.find("Content-Length: 7\r\n"), std::string::npos) << seen;
    EXPECT_EQ(seen.substr(seen.find("\r\n\r\n") + 4), "abcdefg");
}

TEST(HttpConnection, ReusesAKeepAliveConnection) {
    auto server = TinyServer::tcp([&](int fd) {
        for (int i = 0; i < 2; ++i) {
            read_request(fd);
            send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n" + std::to_string(i));
        }
    });
    HttpConnection c;
    ASSERT_FALSE(c.connect(server->endpoint(), 2s));
    for (int i = 0; i < 2; ++i) {
        const auto deadline = deadline_after(10s);
        ASSERT_FALSE(c.write(make_request("POST", "/", "h", "q"), deadline));
        ASSERT_TRUE(std::holds_alternative<ResponseHead>(c.read_head(deadline)));
        EXPECT_EQ(body_of(c.read_body(10, deadline)), std::to_string(i));
    }
}

TEST(HttpConnection, ASilentServerTimesOut) {
    std::atomic<bool> done{false};
    auto server = TinyServer::tcp([&](int fd) {
        read_request(fd);
        while (!done) std::this_thread::sleep_for(5ms);  // never answers
    });
    HttpConnection c;
    ASSERT_FALSE(c.connect(server->endpoint(), 2s));
    ASSERT_FALSE(c.write(make_request("GET", "/"), deadline_after(10s)));
    auto head = c.read_head(deadline_after(100ms));
    done = true;
    ASSERT_TRUE(std::holds_alternative<Failure>(head));
    EXPECT_EQ(std::get<Failure>(head).fault, Fault::timeout);
    EXPECT_EQ(std::get<Failure>(head).step, Step::receive);
    EXPECT_FALSE(c.is_open());
}

TEST(HttpConnection, NobodyListeningIsRefused) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const auto port = bind_loopback(fd);
    ::close(fd);  // bound once, never listened: nobody is there now
    HttpConnection c;
    auto f = c.connect(TcpEndpoint{"127.0.0.1", port}, 2s);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->fault, Fault::refused);
    EXPECT_EQ(f->step, Step::connect);
    EXPECT_FALSE(c.is_open());

    auto missing = HttpConnection{}.connect(UnixEndpoint{"/nonexistent/zp-net-test.sock"}, 2s);
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->step, Step::connect);
    EXPECT_FALSE(missing->message.empty());
}

TEST(HttpConnection, AClosedConnectionBeforeTheReplyIsSaidSo) {
    auto server = TinyServer::tcp([&](int fd) { read_request(fd); });  // closes without a word
    HttpConnection c;
    auto head = get(c, *server, deadline_after(10s));
    ASSERT_TRUE(std::holds_alternative<Failure>(head));
    const auto& f = std::get<Failure>(head);
    EXPECT_TRUE(f.peer_gone()) << f.message;
    EXPECT_TRUE(f.before_reply);
}

TEST(HttpConnection, BodiesOverTheLimitAreRefused) {
    for (const std::string reply : {"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",  // declared: refused unread
                                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n"
                                    "12345678\r\n0\r\n\r\n"}) {
        auto server = TinyServer::tcp(answer(reply));
        HttpConnection c;
        const auto deadline = deadline_after(10s);
        ASSERT_TRUE(std::holds_alternative<ResponseHead>(get(c, *server, deadline)));
        auto body = c.read_body(10, deadline);
        ASSERT_TRUE(std::holds_alternative<Failure>(body)) << reply;
        EXPECT_EQ(std::get<Failure>(body).fault, Fault::body_limit);
        EXPECT_FALSE(c.is_open());
    }
}

TEST(HttpConnection, AReplyThatIsNotHttpIsMalformed) {
    auto server = TinyServer::tcp(answer("SSH-2.0-OpenSSH_9.2\r\n\r\n"));
    HttpConnection c;
    auto head = get(c, *server, deadline_after(10s));
    ASSERT_TRUE(std::holds_alternative<Failure>(head));
    EXPECT_EQ(std::get<Failure>(head).fault, Fault::malformed);
}

TEST(HttpConnection, AConnectionEndingInsideTheBodyIsAPartialMessage) {
    auto server = TinyServer::tcp(answer("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"));
    HttpConnection c;
    const auto deadline = deadline_after(10s);
    ASSERT_TRUE(std::holds_alternative<ResponseHead>(get(c, *server, deadline)));
    auto body = c.read_body(100, deadline);
    ASSERT_TRUE(std::holds_alternative<Failure>(body));
    EXPECT_EQ(std::get<Failure>(body).fault, Fault::partial_message);
    EXPECT_FALSE(std::get<Failure>(body).before_reply);
}

TEST(HttpConnection, WordsForTimeouts) {
    EXPECT_EQ(duration_text(30000ms), "30 s");
    EXPECT_EQ(duration_text(1500ms), "1500 ms");
    EXPECT_EQ(lower_first("Connection refused"), "connection refused");
    EXPECT_EQ(lower_first(""), "");
}

}  // namespace
}  // namespace zeppelin::net
