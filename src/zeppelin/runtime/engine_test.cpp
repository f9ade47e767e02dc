// Engine client against a fake engine on a real unix socket: the failure modes a real engine
// cannot be made to show on demand (garbage replies, a crash mid-reply, silence), and the wire
// format of streamed uploads and log streams. The real engine is tested in tests/runtime/.
#include "zeppelin/runtime/engine.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>

namespace zeppelin::runtime {
namespace {

using namespace std::chrono_literals;

void write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const auto n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n <= 0) return;
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

void respond(int fd, unsigned status, std::string_view body, std::string_view content_type = "application/json") {
    write_all(fd, "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: " + std::string{content_type} +
                      "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
                      std::string{body});
}

/// Decodes a chunked body ("size\r\ndata\r\n ... 0\r\n\r\n").
std::string dechunk(std::string_view s) {
    std::string out;
    while (true) {
        const auto eol = s.find("\r\n");
        const std::size_t n = std::stoul(std::string{s.substr(0, eol)}, nullptr, 16);
        if (n == 0) return out;
        out.append(s.substr(eol + 2, n));
        s.remove_prefix(eol + 2 + n + 2);
    }
}

struct Request {
    std::string head;  // request line and headers
    std::string body;  // de-chunked
    [[nodiscard]] bool starts(std::string_view method_path) const { return head.starts_with(method_path); }
};

/// A one-thread fake engine: accepts connections, reads one request each, lets the handler answer.
class FakeEngine final {
  public:
    using Handler = std::function<void(int fd, const Request& request)>;

    explicit FakeEngine(Handler handler) : handler_{std::move(handler)} {
        path_ = std::filesystem::temp_directory_path() /
                ("zp-fake-engine-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++) + ".sock");
        std::filesystem::remove(path_);
        listener_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
        if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener_, 8) != 0)
            throw std::runtime_error{"cannot listen on " + path_.string()};
        thread_ = std::thread{[this] { serve(); }};
    }
    ~FakeEngine() {
        stop_ = true;
        ::shutdown(listener_, SHUT_RDWR);
        thread_.join();
        ::close(listener_);
        std::filesystem::remove(path_);
    }
    FakeEngine(const FakeEngine&) = delete;
    FakeEngine& operator=(const FakeEngine&) = delete;

    [[nodiscard]] Engine engine(EngineOptions options = {}) const {
        return Engine{EngineAddress{path_.string()}, std::move(options)};
    }
    std::vector<Request> requests() {
        std::lock_guard lock{mutex_};
        return requests_;
    }

  private:
    void serve() {
        while (!stop_) {
            const int fd = ::accept(listener_, nullptr, nullptr);
            if (fd < 0) return;
            Request r = read_request(fd);
            {
                std::lock_guard lock{mutex_};
                requests_.push_back(r);
            }
            handler_(fd, r);
            ::close(fd);
        }
    }
    static Request read_request(int fd) {
        std::string data;
        char buf[65536];
        std::size_t head_end = std::string::npos;
        Request r;
        for (;;) {
            if (head_end == std::string::npos) head_end = data.find("\r\n\r\n");
            if (head_end != std::string::npos) {
                r.head = data.substr(0, head_end);
                const std::string rest = data.substr(head_end + 4);
                if (r.head.find("Transfer-Encoding: chunked") != std::string::npos) {
                    if (rest.ends_with("0\r\n\r\n") && (rest.size() == 5 || rest.ends_with("\r\n0\r\n\r\n"))) {
                        r.body = dechunk(rest);
                        return r;
                    }
                } else {
                    std::size_t length = 0;
                    if (auto p = r.head.find("Content-Length: "); p != std::string::npos)
                        length = std::stoul(r.head.substr(p + 16));
                    if (rest.size() >= length) {
                        r.body = rest;
                        return r;
                    }
                }
            }
            const auto n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) return r;
            data.append(buf, static_cast<std::size_t>(n));
        }
    }

    static inline std::atomic<int> counter_{0};
    Handler handler_;
    std::filesystem::path path_;
    int listener_{-1};
    std::atomic<bool> stop_{false};
    std::thread thread_;
    std::mutex mutex_;
    std::vector<Request> requests_;
};

TEST(Engine, MissingSocketIsAClearError) {
    Engine engine{EngineAddress{"/tmp/zeppelin-no-such-dir/podman.sock"}};
    auto r = engine.ping();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::io);
    EXPECT_NE(
        r.error().message().find("container engine not reachable at unix:///tmp/zeppelin-no-such-dir/podman.sock"),
        std::string::npos)
        << r.error().message();
    EXPECT_NE(r.error().message().find("podman system service"), std::string::npos);
}

TEST(Engine, PingAndVersion) {
    FakeEngine fake{[](int fd, const Request& r) {
        if (r.starts("GET /v1.41/_ping "))
            respond(fd, 200, "OK", "text/plain");
        else
            respond(
                fd, 200,
                R"({"Version":"4.3.1","ApiVersion":"1.41","Os":"linux","Arch":"amd64","Components":[{"Name":"Podman Engine"}]})");
    }};
    auto engine = fake.engine();
    ASSERT_TRUE(engine.ping());
    auto v = engine.version();
    ASSERT_TRUE(v) << v.error().message();
    EXPECT_EQ(v->version, "4.3.1");
    EXPECT_EQ(v->api_version, "1.41");
    EXPECT_TRUE(v->podman);
}

TEST(Engine, GarbageReplyIsEngineError) {
    FakeEngine fake{[](int fd, const Request&) { write_all(fd, "SSH-2.0-OpenSSH_9.2\r\n\r\n"); }};
    auto r = fake.engine().ping();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::engine_error);
    EXPECT_NE(r.error().message().find("malformed HTTP reply to GET /v1.41/_ping"), std::string::npos)
        << r.error().message();
}

TEST(Engine, NonJsonBodyIsEngineError) {
    FakeEngine fake{[](int fd, const Request&) { respond(fd, 200, "<html>hello</html>", "text/html"); }};
    auto r = fake.engine().inspect_container("abc");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::engine_error);
    EXPECT_NE(r.error().message().find("not JSON"), std::string::npos) << r.error().message();
}

TEST(Engine, CrashMidReplyIsIoError) {
    FakeEngine fake{[](int fd, const Request&) {
        write_all(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"Id\":\"ab");
    }};
    auto r = fake.engine().inspect_container("abc");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::io);
    EXPECT_NE(r.error().message().find("closed the connection during GET /v1.41/containers/abc/json"),
              std::string::npos)
        << r.error().message();
}

TEST(Engine, CrashBeforeReplyIsIoError) {
    FakeEngine fake{[](int, const Request&) {}};
    auto r = fake.engine().ping();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::io);
}

TEST(Engine, SilenceTimesOut) {
    FakeEngine fake{[](int, const Request&) { std::this_thread::sleep_for(800ms); }};
    EngineOptions options;
    options.request_timeout = 200ms;
    const auto start = std::chrono::steady_clock::now();
    auto r = fake.engine(options).ping();
    const auto took = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::timeout);
    EXPECT_NE(r.error().message().find("200 ms"), std::string::npos) << r.error().message();
    EXPECT_LT(took, 700ms);
}

TEST(Engine, NotFoundCarriesTheEngineMessage) {
    FakeEngine fake{[](int fd, const Request&) {
        respond(
            fd, 404,
            R"({"cause":"no such container","message":"no container with name or ID \"abc\" found: no such container","response":404})");
    }};
    auto r = fake.engine().inspect_container("abc");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::not_found);
    auto s = fake.engine().stop_container("abc", 0s);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code(), Errc::not_found);
    auto img = fake.engine().remove_image("localhost/x:1");
    ASSERT_FALSE(img);
    EXPECT_EQ(img.error().code(), Errc::not_found);
}

TEST(Engine, RejectsUnsafeIds) {
    FakeEngine fake{[](int fd, const Request&) { respond(fd, 200, "{}"); }};
    auto r = fake.engine().inspect_container("../../images/x");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::invalid_argument);
    EXPECT_TRUE(fake.requests().empty());
}

TEST(Engine, StreamedLoadIsChunkedAndResolvesTheImageId) {
    const std::string id = "sha256:3d6fd17486ecc848f9422bc442dc56046e0b11c4947b24c9dad6dd7203687ba0";
    FakeEngine fake{[&](int fd, const Request& r) {
        if (r.starts("POST /v1.41/images/load"))
            respond(fd, 200, R"({"stream":"Loaded image: localhost/t/app:1"})");
        else if (r.starts("GET /v1.41/images/localhost/t/app:1/json "))
            respond(fd, 200,
                    R"({"Id":")" + id + R"(","RepoTags":["localhost/t/app:1"],"RootFS":{"Layers":["sha256:aa"]}})");
        else
            respond(fd, 404, R"({"message":"unexpected"})");
    }};
    // 600 kB in uneven pieces: several chunks.
    std::string payload(600'000, '\0');
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 7 + i / 1000);
    std::size_t offset = 0;
    auto source = [&](std::span<char> buffer) -> Result<std::size_t> {
        const std::size_t n = std::min<std::size_t>({buffer.size(), payload.size() - offset, 99'991});
        std::memcpy(buffer.data(), payload.data() + offset, n);
        offset += n;
        return n;
    };
    auto loaded = fake.engine().load_image(source);
    ASSERT_TRUE(loaded) << loaded.error().message();
    EXPECT_EQ(loaded->id, id);
    EXPECT_EQ(loaded->names, std::vector<std::string>{"localhost/t/app:1"});
    const auto requests = fake.requests();
    ASSERT_GE(requests.size(), 1u);
    EXPECT_NE(requests[0].head.find("Transfer-Encoding: chunked"), std::string::npos);
    EXPECT_NE(requests[0].head.find("Content-Type: application/x-tar"), std::string::npos);
    EXPECT_EQ(requests[0].body.size(), payload.size());
    EXPECT_TRUE(requests[0].body == payload);
}

TEST(Engine, FileLoadSendsContentLengthAndReportsRefusal) {
    FakeEngine fake{[](int fd, const Request&) {
        respond(
            fd, 500,
            R"({"cause":"x","message":"failed to load image: payload does not match any of the supported image formats","response":500})");
    }};
    const auto file =
        std::filesystem::temp_directory_path() / ("zp-engine-test-" + std::to_string(::getpid()) + ".tar");
    {
        std::ofstream out{file, std::ios::binary};
        out << std::string(5000, 'z');
    }
    auto loaded = fake.engine().load_image(file);
    std::filesystem::remove(file);
    ASSERT_FALSE(loaded);
    EXPECT_EQ(loaded.error().code(), Errc::engine_error);
    EXPECT_NE(loaded.error().message().find("refused the image archive: failed to load image: payload does not match"),
              std::string::npos)
        << loaded.error().message();
    const auto requests = fake.requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_NE(requests[0].head.find("Content-Length: 5000"), std::string::npos);
    EXPECT_EQ(requests[0].body, std::string(5000, 'z'));

    auto missing = fake.engine().load_image(std::filesystem::path{"/nonexistent/image.tar"});
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code(), Errc::io);
}

TEST(Engine, LogsAreDemultiplexed) {
    auto frame = [](char stream, std::string_view payload) {
        std::string f{stream, 0, 0, 0, 0, 0, 0, static_cast<char>(payload.size())};
        return f + std::string{payload};
    };
    const std::string stream = frame(1, "out1\n") + frame(2, "err1\n") + frame(1, "out2\n");
    auto hex = [](std::size_t n) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "%zx", n);
        return std::string{buf};
    };
    FakeEngine fake{[&](int fd, const Request& r) {
        if (r.starts("GET /v1.41/containers/c1/json "))
            respond(fd, 200, R"({"Id":"c1","Config":{"Tty":false},"State":{"Status":"exited"}})");
        else if (r.starts("GET /v1.41/containers/c1/logs?"))
            // Chunked, with a frame cut across chunks.
            write_all(fd,
                      "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n" +
                          (hex(11) + "\r\n" + stream.substr(0, 11) + "\r\n") + hex(stream.size() - 11) + "\r\n" +
                          stream.substr(11) + "\r\n" + "0\r\n\r\n");
        else
            respond(fd, 404, "{}");
    }};
    std::string out, err;
    auto r = fake.engine().logs("c1", {}, [&](LogStream s, std::string_view d) {
        (s == LogStream::stdout_ ? out : err).append(d);
        return true;
    });
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(out, "out1\nout2\n");
    EXPECT_EQ(err, "err1\n");
}

TEST(Engine, ListFiltersByLabelEvenIfTheEngineDoesNot) {
    FakeEngine fake{[](int fd, const Request&) {
        respond(
            fd, 200,
            R"([{"Id":"a","Names":["/x"],"Labels":{"io.zeppelin.agreement":"1"},"State":"running","Ports":[{"IP":"127.0.0.1","PrivatePort":8080,"PublicPort":34349,"Type":"tcp"}]},
                              {"Id":"b","Names":["/y"],"Labels":{"other":"1"},"State":"running"}])");
    }};
    auto list = fake.engine().list_containers({"io.zeppelin.agreement=1"});
    ASSERT_TRUE(list) << list.error().message();
    ASSERT_EQ(list->size(), 1u);
    EXPECT_EQ((*list)[0].id, "a");
    EXPECT_EQ((*list)[0].name, "x");
    ASSERT_EQ((*list)[0].ports.size(), 1u);
    EXPECT_EQ((*list)[0].ports[0].host_port, 34349);
    const auto requests = fake.requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_NE(requests[0].head.find("filters=%7B%22label%22%3A%5B%22io.zeppelin.agreement%3D1%22%5D%7D"),
              std::string::npos)
        << requests[0].head;
}

TEST(Engine, EventsAreFilteredAndStreamedAsTheyCome) {
    FakeEngine fake{[](int fd, const Request&) {
        auto chunk = [](const std::string& data) {
            char size[16];
            std::snprintf(size, sizeof size, "%zx\r\n", data.size());
            return std::string{size} + data + "\r\n";
        };
        write_all(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
        write_all(
            fd,
            chunk(
                R"({"status":"start","Type":"container","Action":"start","Actor":{"ID":"c1","Attributes":{"io.zeppelin.agreement":"7"}},"timeNano":1})"
                "\n"));
        write_all(
            fd,
            chunk(
                R"({"status":"die","Type":"container","Action":"die","Actor":{"ID":"c2","Attributes":{"io.zeppelin.agreement":"8","exitCode":"1"}}})"
                "\n"));
        // The wanted event, split across two chunks; then the stream stays open (as a real one does).
        const std::string die =
            R"({"status":"die","Type":"container","Action":"die","Actor":{"ID":"c1","Attributes":{"io.zeppelin.agreement":"7","exitCode":"137"}},"timeNano":5})"
            "\n";
        write_all(fd, chunk(die.substr(0, 30)));
        write_all(fd, chunk(die.substr(30)));
        std::this_thread::sleep_for(1500ms);
    }};
    EventFilter filter;
    filter.types = {"container"};
    filter.events = {"die"};
    filter.labels = {"io.zeppelin.agreement=7"};
    std::vector<EngineEvent> seen;
    const auto start = std::chrono::steady_clock::now();
    auto r = fake.engine().events(filter, 5s, [&](const EngineEvent& e) {
        seen.push_back(e);
        return false;
    });
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1000ms);  // did not wait for the stream to end
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].id, "c1");
    EXPECT_EQ(seen[0].attributes["exitCode"], "137");
    EXPECT_EQ(seen[0].time_nano, 5);
    const auto requests = fake.requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0].head.find("event%22"), std::string::npos);  // not sent: Podman 4.3 mishandles it
}

}  // namespace
}  // namespace zeppelin::runtime
