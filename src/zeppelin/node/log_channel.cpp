#include "zeppelin/node/log_channel.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <list>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/transfer/digest.hpp"

namespace zeppelin::node {
namespace {

using namespace std::chrono_literals;
constexpr std::string_view kIdentityPrefix = "logs:";

std::optional<std::uint64_t> agreement_of(const std::string& identity) {
    if (!identity.starts_with(kIdentityPrefix)) return std::nullopt;
    const auto digits = identity.substr(kIdentityPrefix.size());
    if (digits.empty() || digits.size() > 19 || digits.find_first_not_of("0123456789") != std::string::npos)
        return std::nullopt;
    return std::stoull(digits);
}

}  // namespace

transfer::Secret logs_key(const transfer::Secret& transfer_secret) {
    constexpr std::string_view tag = "zeppelin/logs/v1";
    transfer::Sha256 h;
    h.update(as_view(tag));
    h.update(transfer_secret.view());
    return h.finish();
}

struct LogServer::Impl {
    int listen_fd{-1};
    std::uint16_t port{0};
    std::unique_ptr<transfer::TlsServer> tls;
    Source source;
    std::atomic<bool> stopping{false};
    std::thread acceptor;
    struct Connection {
        std::thread thread;
        std::atomic<bool> done{false};
    };
    std::mutex mu;
    std::list<Connection> connections;  // finished ones are joined by the accept loop
    std::list<transfer::TlsConnection*> open;

    void serve(int fd) {
        auto conn = tls->accept(fd, 10s);
        if (!conn) return;
        {
            std::lock_guard lock{mu};
            if (stopping) return;
            open.push_back(conn->get());
        }
        std::uint8_t flags = 0;
        const auto id = agreement_of((*conn)->identity());
        if (id && (*conn)->read_exact(&flags, 1)) {
            transfer::set_socket_timeout((*conn)->fd(), 0ms);
            auto& c = **conn;
            auto send = [&](std::string_view chunk) {
                if (stopping) return false;
                if (chunk.empty()) return true;
                Bytes frame(4 + chunk.size());
                const auto n = static_cast<std::uint32_t>(chunk.size());
                frame[0] = static_cast<std::uint8_t>(n >> 24);
                frame[1] = static_cast<std::uint8_t>(n >> 16);
                frame[2] = static_cast<std::uint8_t>(n >> 8);
                frame[3] = static_cast<std::uint8_t>(n);
                std::copy(chunk.begin(), chunk.end(), frame.begin() + 4);
                return c.write_all(frame).has_value();
            };
            auto r = source(*id, (flags & 1) != 0, send);
            if (!r) (void)send("\n[zeppelin] " + r.error().message() + "\n");
            const std::uint8_t end[4] = {0, 0, 0, 0};
            (void)c.write_all(ByteView{end, 4});
            c.close();
        }
        std::lock_guard lock{mu};
        open.remove(conn->get());
    }

    void accept_loop() {
        while (!stopping) {
            pollfd p{listen_fd, POLLIN, 0};
            if (::poll(&p, 1, 200) <= 0) continue;
            const int fd = ::accept(listen_fd, nullptr, nullptr);
            if (fd < 0) continue;
            std::lock_guard lock{mu};
            connections.remove_if([](Connection& c) {
                if (!c.done) return false;
                c.thread.join();
                return true;
            });
            auto& c = connections.emplace_back();
            c.thread = std::thread{[this, fd, &c] {
                serve(fd);
                c.done = true;
            }};
        }
    }
};

LogServer::LogServer(std::unique_ptr<Impl> impl) : impl_{std::move(impl)} {}
LogServer::~LogServer() { stop(); }

std::uint16_t LogServer::port() const noexcept { return impl_->port; }

void LogServer::stop() {
    if (!impl_ || impl_->stopping.exchange(true)) return;
    if (impl_->acceptor.joinable()) impl_->acceptor.join();
    {
        std::lock_guard lock{impl_->mu};
        for (auto* c : impl_->open) c->abort();
    }
    for (auto& c : impl_->connections) c.thread.join();
    ::close(impl_->listen_fd);
}

Result<std::unique_ptr<LogServer>> LogServer::start(const std::string& host, std::uint16_t port, Lookup lookup,
                                                    Source source) {
    auto impl = std::make_unique<Impl>();
    impl->source = std::move(source);
    impl->tls = ZP_TRY(transfer::TlsServer::create([lookup = std::move(lookup)](const std::string& identity) {
        const auto id = agreement_of(identity);
        return id ? lookup(*id) : std::nullopt;
    }));
    impl->listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (impl->listen_fd < 0) return make_error(Errc::io, "log server: cannot create a socket");
    int one = 1;
    ::setsockopt(impl->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
        ::close(impl->listen_fd);
        return make_error(Errc::invalid_argument, "log server: '" + host + "' is not an IPv4 address");
    }
    if (::bind(impl->listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(impl->listen_fd, 16) != 0) {
        ::close(impl->listen_fd);
        return make_error(Errc::io, "log server: cannot listen on " + host + ":" + std::to_string(port));
    }
    socklen_t len = sizeof addr;
    ::getsockname(impl->listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
    impl->port = ntohs(addr.sin_port);
    auto* raw = impl.get();
    impl->acceptor = std::thread{[raw] { raw->accept_loop(); }};
    return std::unique_ptr<LogServer>{new LogServer{std::move(impl)}};
}

Result<void> fetch_logs(const transfer::Endpoint& worker, std::uint64_t agreement, const transfer::Secret& key,
                        bool follow, const LogSinkFn& sink) {
    auto conn = ZP_TRY(transfer::TlsConnection::connect(worker, std::string{kIdentityPrefix} + std::to_string(agreement),
                                                         key, 10s));
    const std::uint8_t flags = follow ? 1 : 0;
    ZP_CHECK(conn->write_all(ByteView{&flags, 1}));
    transfer::set_socket_timeout(conn->fd(), follow ? 0ms : 30000ms);
    // Frames: u32 big-endian length + bytes; a zero length ends the stream.
    Bytes buf;
    for (;;) {
        std::uint8_t head[4];
        ZP_CHECK(conn->read_exact(head, 4));
        const std::uint32_t n = (std::uint32_t{head[0]} << 24) | (std::uint32_t{head[1]} << 16) |
                                (std::uint32_t{head[2]} << 8) | std::uint32_t{head[3]};
        if (n == 0) return {};
        if (n > (1U << 20)) return make_error(Errc::protocol, "log stream: a frame larger than 1 MiB");
        buf.resize(n);
        ZP_CHECK(conn->read_exact(buf.data(), n));
        if (!sink(std::string_view{reinterpret_cast<const char*>(buf.data()), n})) return {};
    }
}

}  // namespace zeppelin::node
