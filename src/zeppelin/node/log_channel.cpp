#include "zeppelin/node/log_channel.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <ctime>
#include <deque>
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

constexpr std::uint32_t kErrorFrame = 0x80000000U;
constexpr std::uint32_t kMaxFrame = 1U << 20;

void put_be(Bytes& out, std::uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
std::uint64_t get_be(const std::uint8_t* p, int bytes) {
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
    return v;
}

/// One line of timestamped output: its time (if it has one) and where its text begins.
struct Line {
    std::string_view whole;  // with the time and the newline (if any)
    std::optional<std::int64_t> ns;
    std::size_t text_at{0};
};

Line split_time(std::string_view whole) {
    Line l{whole, std::nullopt, 0};
    const auto space = whole.find(' ');
    if (space == std::string_view::npos || space > 40) return l;
    l.ns = parse_rfc3339_ns(whole.substr(0, space));
    if (l.ns) l.text_at = space + 1;
    return l;
}

/// Cuts a stream of chunks into whole lines (a partial line waits for its end, or the stream's).
class LineCutter {
  public:
    template <class F>
    bool feed(std::string_view chunk, F&& on_line) {
        partial_.append(chunk);
        std::size_t from = 0;
        for (auto nl = partial_.find('\n'); nl != std::string::npos; nl = partial_.find('\n', from)) {
            if (!on_line(std::string_view{partial_}.substr(from, nl + 1 - from))) return false;
            from = nl + 1;
        }
        partial_.erase(0, from);
        return true;
    }
    template <class F>
    bool finish(F&& on_line) {
        if (partial_.empty()) return true;
        const auto rest = std::move(partial_);
        partial_.clear();
        return on_line(std::string_view{rest});
    }

  private:
    std::string partial_;
};

}  // namespace

std::optional<std::int64_t> parse_rfc3339_ns(std::string_view t) {
    // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)
    auto digits = [&](std::size_t at, std::size_t n) -> std::optional<int> {
        if (at + n > t.size()) return std::nullopt;
        int v = 0;
        for (std::size_t i = at; i < at + n; ++i) {
            if (t[i] < '0' || t[i] > '9') return std::nullopt;
            v = v * 10 + (t[i] - '0');
        }
        return v;
    };
    if (t.size() < 20 || t[4] != '-' || t[7] != '-' || (t[10] != 'T' && t[10] != 't' && t[10] != ' ') || t[13] != ':' ||
        t[16] != ':')
        return std::nullopt;
    const auto year = digits(0, 4), month = digits(5, 2), day = digits(8, 2), hour = digits(11, 2), minute = digits(14, 2),
               second = digits(17, 2);
    if (!year || !month || !day || !hour || !minute || !second || *month < 1 || *month > 12 || *day < 1 || *day > 31 ||
        *hour > 23 || *minute > 59 || *second > 60)
        return std::nullopt;
    std::size_t at = 19;
    std::int64_t frac_ns = 0;
    if (at < t.size() && t[at] == '.') {
        ++at;
        int n = 0;
        for (; at < t.size() && t[at] >= '0' && t[at] <= '9'; ++at, ++n)
            if (n < 9) frac_ns = frac_ns * 10 + (t[at] - '0');
        if (n == 0) return std::nullopt;
        for (; n < 9; ++n) frac_ns *= 10;
    }
    std::int64_t offset_s = 0;
    if (at < t.size() && (t[at] == 'Z' || t[at] == 'z')) {
        ++at;
    } else if (at < t.size() && (t[at] == '+' || t[at] == '-')) {
        const auto oh = digits(at + 1, 2), om = digits(at + 4, 2);
        if (!oh || !om || at + 3 >= t.size() || t[at + 3] != ':') return std::nullopt;
        offset_s = (t[at] == '+' ? 1 : -1) * (*oh * 3600 + *om * 60);
        at += 6;
    } else {
        return std::nullopt;
    }
    if (at != t.size()) return std::nullopt;
    std::tm tm{};
    tm.tm_year = *year - 1900;
    tm.tm_mon = *month - 1;
    tm.tm_mday = *day;
    tm.tm_hour = *hour;
    tm.tm_min = *minute;
    tm.tm_sec = *second;
    const auto secs = static_cast<std::int64_t>(::timegm(&tm)) - offset_s;
    return secs * 1'000'000'000 + frac_ns;
}

Result<void> answer_log_query(const LogQuery& q, const TimestampedSource& source, const LogSinkFn& out) {
    std::string batch;  // the whole lines of one chunk, sent together
    auto keep = [&](const Line& l) { return !q.since_ns || !l.ns || *l.ns >= *q.since_ns; };
    auto add = [&](const Line& l) {
        batch.append(q.timestamps ? l.whole : l.whole.substr(l.text_at));
    };
    auto flush = [&] {
        if (batch.empty()) return true;
        const bool more = out(batch);
        batch.clear();
        return more;
    };
    bool reader_left = false;

    // The time of the last line written before the call and how many lines carry it, so that the
    // followed pass sends every later line once (after a tail).
    std::optional<std::int64_t> last_ns;
    std::uint64_t at_last = 0;
    bool history_read = false;
    if (q.tail) {
        std::deque<std::string> tail;
        LineCutter cut;
        auto on_line = [&](std::string_view whole) {
            const auto l = split_time(whole);
            if (l.ns) {
                if (last_ns == l.ns) ++at_last;
                else at_last = 1;
                last_ns = l.ns;
            }
            if (!keep(l) || *q.tail == 0) return true;
            tail.emplace_back(q.timestamps ? l.whole : l.whole.substr(l.text_at));
            if (tail.size() > *q.tail) tail.pop_front();
            return true;
        };
        ZP_CHECK(source(false, [&](std::string_view chunk) { return cut.feed(chunk, on_line); }));
        cut.finish(on_line);
        for (auto& line : tail) batch += line;
        if (!flush()) return {};
        history_read = true;
        if (!q.follow) return {};
    }
    LineCutter cut;
    std::uint64_t seen_at_last = 0;
    bool caught_up = !history_read;
    auto on_line = [&](std::string_view whole) {
        const auto l = split_time(whole);
        if (!caught_up && l.ns && last_ns) {
            if (*l.ns < *last_ns) return true;
            if (*l.ns == *last_ns && seen_at_last < at_last) {
                ++seen_at_last;
                return true;
            }
        }
        caught_up = true;
        if (keep(l)) add(l);
        return true;
    };
    ZP_CHECK(source(q.follow, [&](std::string_view chunk) {
        cut.feed(chunk, on_line);
        reader_left = !flush();
        return !reader_left;
    }));
    if (reader_left) return {};
    cut.finish(on_line);
    flush();
    return {};
}

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
        LogQuery query;
        bool read = id && (*conn)->read_exact(&flags, 1);
        query.follow = (flags & 1) != 0;
        query.timestamps = (flags & 2) != 0;
        std::uint8_t word[8];
        if (read && (flags & 4) != 0) {
            read = (*conn)->read_exact(word, 4).has_value();
            query.tail = static_cast<std::uint32_t>(get_be(word, 4));
        }
        if (read && (flags & 8) != 0) {
            read = (*conn)->read_exact(word, 8).has_value();
            query.since_ns = static_cast<std::int64_t>(get_be(word, 8));
        }
        if (read) {
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
            // Output in frames of at most kMaxFrame.
            auto send_all = [&](std::string_view chunk) {
                for (std::size_t at = 0; at < chunk.size(); at += kMaxFrame)
                    if (!send(chunk.substr(at, kMaxFrame))) return false;
                return true;
            };
            const auto agreement = *id;
            auto r = answer_log_query(
                query, [&](bool follow, const LogSinkFn& sink) { return source(agreement, follow, sink); }, send_all);
            Bytes end;
            if (!r) {
                const auto message = r.error().message().substr(0, 4096);
                put_be(end, kErrorFrame | message.size(), 4);
                end.insert(end.end(), message.begin(), message.end());
            }
            put_be(end, 0, 4);
            if (!stopping) (void)c.write_all(end);
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
                        const LogQuery& query, const LogSinkFn& sink) {
    auto conn = ZP_TRY(transfer::TlsConnection::connect(worker, std::string{kIdentityPrefix} + std::to_string(agreement),
                                                         key, 10s));
    Bytes request;
    request.push_back(static_cast<std::uint8_t>((query.follow ? 1 : 0) | (query.timestamps ? 2 : 0) |
                                                (query.tail ? 4 : 0) | (query.since_ns ? 8 : 0)));
    if (query.tail) put_be(request, *query.tail, 4);
    if (query.since_ns) put_be(request, static_cast<std::uint64_t>(*query.since_ns), 8);
    ZP_CHECK(conn->write_all(request));
    // Reading the history before a tail may take the worker a moment; following has no limit.
    transfer::set_socket_timeout(conn->fd(), query.follow ? 0ms : 30000ms);
    Bytes buf;
    for (;;) {
        std::uint8_t head[4];
        ZP_CHECK(conn->read_exact(head, 4));
        const auto word = static_cast<std::uint32_t>(get_be(head, 4));
        const auto n = word & ~kErrorFrame;
        if (word == 0) return {};
        if (n > kMaxFrame) return make_error(Errc::protocol, "log stream: a frame larger than 1 MiB");
        buf.resize(n);
        ZP_CHECK(conn->read_exact(buf.data(), n));
        const std::string_view text{reinterpret_cast<const char*>(buf.data()), n};
        if ((word & kErrorFrame) != 0)
            return make_error(Errc::io, "the worker " + worker.host + ":" + std::to_string(worker.port) + ": " + std::string{text});
        if (!sink(text)) return {};
    }
}

}  // namespace zeppelin::node
