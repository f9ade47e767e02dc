#include "zeppelin/transfer/server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/transfer/image.hpp"
#include "zeppelin/transfer/layer_receiver.hpp"
#include "zeppelin/transfer/protocol.hpp"

namespace zeppelin::transfer {

namespace fs = std::filesystem;
namespace proto = protocol;

namespace {

using detail::Block;
using detail::BlockPool;
using detail::kIoBlock;
using detail::LayerReceiver;

Result<proto::FrameHeader> read_frame(TlsConnection& c, Bytes& payload) {
    std::uint8_t h[proto::kHeaderSize];
    ZP_CHECK(c.read_exact(h, sizeof h));
    auto header = ZP_TRY(proto::parse_header({h, sizeof h}));
    payload.resize(header.length);
    if (header.length > 0) ZP_CHECK(c.read_exact(payload.data(), header.length));
    return header;
}

}  // namespace

struct Server::Impl {
    enum class State { open, busy, done, failed };
    struct Agreement {
        Secret secret;
        Digest config_digest;
        std::uint64_t max_bytes{0};
        State state{State::open};
        std::optional<Result<ReceivedImage>> result;
        std::uint64_t wire_bytes{0};
        std::size_t connections{0};
        std::size_t layers_received{0};
        TlsConnection* active{nullptr};
    };

    ServerOptions options;
    std::unique_ptr<LayerCache> cache;
    std::unique_ptr<TlsServer> tls;
    int listen_fd{-1};
    std::uint16_t port{0};
    std::thread acceptor;
    std::mutex mu;
    std::condition_variable cv;
    std::map<std::string, Agreement> agreements;
    struct Worker {
        std::thread thread;
        std::atomic<bool> finished{false};
    };
    std::list<Worker> workers;
    std::set<int> open_fds;
    bool stopping{false};

    void accept_loop() {
        for (;;) {
            int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno == EINTR || errno == ECONNABORTED) continue;
                std::lock_guard lock{mu};
                if (stopping) return;
                if (errno == EMFILE || errno == ENFILE) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(50));
                    continue;
                }
                return;
            }
            std::lock_guard lock{mu};
            if (stopping) {
                ::close(fd);
                return;
            }
            open_fds.insert(fd);
            for (auto it = workers.begin(); it != workers.end();) {  // reap finished connections
                if (it->finished) {
                    it->thread.join();
                    it = workers.erase(it);
                } else {
                    ++it;
                }
            }
            auto& w = workers.emplace_back();
            w.thread = std::thread([this, &w, fd] {
                serve(fd);
                w.finished = true;
            });
        }
    }

    void serve(int fd) {
        auto conn_r = tls->accept(fd, options.io_timeout);
        if (!conn_r) {
            std::lock_guard lock{mu};
            open_fds.erase(fd);
            return;  // wrong key / unknown agreement / junk: nothing to tell
        }
        auto conn = std::move(conn_r).value();
        const auto id = conn->identity();
        Agreement* ag = nullptr;
        std::optional<Error> refuse;
        {
            std::unique_lock lock{mu};
            auto it = agreements.find(id);
            if (it != agreements.end() && it->second.state == State::busy && it->second.active != nullptr) {
                // The key holder reconnected (e.g. after a network cut we have not noticed yet):
                // the old connection is dead to it. Close that one and let this one resume.
                it->second.active->abort();
                cv.wait_for(lock, std::chrono::seconds(10), [&] {
                    auto again = agreements.find(id);
                    return again == agreements.end() || again->second.state != State::busy;
                });
                it = agreements.find(id);
            }
            if (it == agreements.end()) {
                refuse = Error{Errc::not_found, "agreement '" + id + "' is no longer expected"};
            } else {
                ag = &it->second;
                if (ag->state == State::done)
                    refuse =
                        Error{Errc::auth_failed, "the transfer secret of agreement '" + id +
                                                     "' was already used for a completed transfer (replay refused)"};
                else if (ag->state == State::failed)
                    refuse = Error{Errc::auth_failed,
                                   "agreement '" + id + "' already failed: " + ag->result->error().message()};
                else if (ag->state == State::busy)
                    refuse =
                        Error{Errc::already_exists, "a transfer for agreement '" + id + "' is already in progress"};
                else {
                    ag->state = State::busy;
                    ag->active = conn.get();
                    ++ag->connections;
                }
            }
        }
        if (refuse) {
            send_status_and_linger(*conn, *refuse);
            std::lock_guard lock{mu};
            open_fds.erase(fd);
            return;
        }
        std::size_t layers_received = 0;
        auto result = receive(*conn, id, *ag, layers_received);
        if (!result && result.error().code() != Errc::io && result.error().code() != Errc::timeout)
            send_status_and_linger(*conn, result.error());
        std::function<void(const std::string&, const Result<ReceivedImage>&)> notify;
        std::optional<Result<ReceivedImage>> final_result;
        {
            std::lock_guard lock{mu};
            ag->active = nullptr;
            ag->wire_bytes += conn->transport_bytes();
            ag->layers_received += layers_received;
            const bool transient =
                !result && (result.error().code() == Errc::io || result.error().code() == Errc::timeout);
            if (transient && !stopping) {
                ag->state = State::open;  // resumable
            } else {
                if (result) {
                    result->wire_bytes = ag->wire_bytes;
                    result->connections = ag->connections;
                    result->layers_received = ag->layers_received;
                    ag->state = State::done;
                    ag->result = *result;
                } else {
                    ag->state = State::failed;
                    ag->result = result.error();
                    cache->drop_partials(id);
                }
                final_result = ag->result;
                notify = options.on_complete;
            }
            cv.notify_all();
        }
        if (result) {
            auto ok = proto::encode(proto::Status{true, Errc::internal, "image verified"});
            (void)conn->write_all(ok);
            conn->close();
        }
        if (notify && final_result) notify(id, *final_result);
        std::lock_guard lock{mu};
        open_fds.erase(fd);
    }

    void send_status_and_linger(TlsConnection& c, const Error& e) {
        auto frame = proto::encode(proto::Status{false, e.code(), e.message()});
        if (!c.write_all(frame)) return;
        c.close();
        ::shutdown(c.fd(), SHUT_WR);
        // Drain what the client still sends so our close does not reset the connection before it
        // read the STATUS (bounded: 2 s).
        set_socket_timeout(c.fd(), std::chrono::milliseconds(2000));
        std::uint8_t buf[65536];
        auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while (std::chrono::steady_clock::now() < until) {
            auto n = ::read(c.fd(), buf, sizeof buf);
            if (n <= 0) break;
        }
    }

    Result<ReceivedImage> receive(TlsConnection& c, const std::string& id, const Agreement& ag,
                                  std::size_t& layers_received) {
        Bytes payload;
        payload.reserve(kIoBlock + 64);
        auto header = ZP_TRY(read_frame(c, payload));
        if (header.type != proto::FrameType::hello)
            return Error{Errc::protocol, std::string{"expected HELLO, got "} + proto::type_name(header.type)};
        auto msg = ZP_TRY(proto::decode(header.type, payload));
        auto hello = std::get<proto::Hello>(std::move(msg));
        if (hello.agreement_id != id)
            return Error{Errc::protocol,
                         "HELLO names agreement '" + hello.agreement_id + "' but the key is for '" + id + "'"};
        if (hello.config_digest != ag.config_digest)
            return Error{Errc::digest_mismatch, "the client offers image " + digest_string(hello.config_digest) +
                                                    " but agreement '" + id + "' commits to " +
                                                    digest_string(ag.config_digest)};
        if (auto got = sha256(hello.config); got != ag.config_digest)
            return Error{Errc::digest_mismatch, "the image config sent hashes to " + digest_string(got) +
                                                    ", not to the committed digest " + digest_string(ag.config_digest)};
        ImageLimits limits;
        limits.max_layers = proto::kMaxLayers;
        auto config = ZP_TRY(parse_image_config(hello.config, limits));
        if (config.diff_ids.size() != hello.layers.size())
            return Error{Errc::hostile_archive, "HELLO lists " + std::to_string(hello.layers.size()) +
                                                    " layers but the config has " +
                                                    std::to_string(config.diff_ids.size()) + " diff-ids"};
        std::uint64_t total = 0;
        for (std::size_t i = 0; i < hello.layers.size(); ++i) {
            if (hello.layers[i].diff_id != config.diff_ids[i])
                return Error{Errc::hostile_archive, "HELLO's layer " + std::to_string(i) + " is " +
                                                        digest_string(hello.layers[i].diff_id) +
                                                        " but the config says " + digest_string(config.diff_ids[i])};
            total += hello.layers[i].size;
            if (total > ag.max_bytes || hello.layers[i].size > ag.max_bytes)
                return Error{Errc::limit_exceeded, "the image is larger than the " + std::to_string(ag.max_bytes) +
                                                       " bytes allowed for agreement '" + id + "'"};
        }

        if (options.on_hello) {
            IncomingImage incoming{id, hello.config, config.diff_ids, {}, hello.spec};
            for (const auto& l : hello.layers) incoming.sizes.push_back(l.size);
            options.on_hello(incoming);
        }

        // OFFER: what we hold, per distinct diff-id.
        std::map<Digest, std::uint64_t> offered;
        std::set<Digest> present;
        std::set<Digest> pinned;
        struct Unpin {
            LayerCache& cache;
            std::set<Digest>& pins;
            ~Unpin() {
                for (const auto& d : pins) cache.unpin(d);
            }
        } unpin_guard{*cache, pinned};
        proto::Offer offer;
        std::size_t cached = 0;
        for (const auto& l : hello.layers) {
            if (offered.count(l.diff_id) != 0) {
                offer.offsets.push_back(offered[l.diff_id] == UINT64_MAX ? l.size : offered[l.diff_id]);
                continue;
            }
            std::uint64_t have = 0;
            if (cache->contains(l.diff_id, &have)) {
                cache->pin(l.diff_id);
                pinned.insert(l.diff_id);
                present.insert(l.diff_id);
                ++cached;
                offered[l.diff_id] = UINT64_MAX;
                offer.offsets.push_back(l.size);
                continue;
            }
            auto partial = ZP_TRY(cache->partial_path(id, l.diff_id));
            std::error_code ec;
            std::uint64_t psize = fs::exists(partial, ec) ? fs::file_size(partial, ec) : 0;
            if (ec || psize >= l.size) {
                fs::remove(partial, ec);
                psize = 0;
            }
            offered[l.diff_id] = psize;
            offer.offsets.push_back(psize);
        }
        ZP_CHECK(c.write_all(proto::encode(offer)));

        BlockPool pool;  // outlives every LayerReceiver below
        std::unique_ptr<LayerReceiver> current;
        bool current_raw = false;
        auto fail_layer = [&](Error e) -> Error {
            if (current && e.code() != Errc::io && e.code() != Errc::timeout) current->discard();
            return e;
        };
        for (;;) {
            std::uint8_t hb[proto::kHeaderSize];
            if (auto r = c.read_exact(hb, sizeof hb); !r) return fail_layer(r.error());
            auto parsed = proto::parse_header({hb, sizeof hb});
            if (!parsed) return fail_layer(parsed.error());
            header = *parsed;
            if (header.type == proto::FrameType::data && current && current_raw) {
                Block buf = current->buffer();
                if (auto r = c.read_exact(buf.fit(header.length), header.length); !r) return fail_layer(r.error());
                if (auto r = current->data_raw(std::move(buf)); !r) return fail_layer(r.error());
                continue;
            }
            payload.resize(header.length);
            if (header.length > 0)
                if (auto r = c.read_exact(payload.data(), payload.size()); !r) return fail_layer(r.error());
            if (header.type == proto::FrameType::data) {
                if (!current) return Error{Errc::protocol, "DATA outside a layer"};
                if (auto r = current->data_zstd(payload); !r) return fail_layer(r.error());
                continue;
            }
            msg = ZP_TRY(proto::decode(header.type, payload));
            if (auto* begin = std::get_if<proto::LayerBegin>(&msg)) {
                if (current) return Error{Errc::protocol, "LAYER inside another layer"};
                if (begin->index >= hello.layers.size())
                    return Error{Errc::protocol, "LAYER index " + std::to_string(begin->index) + " out of range"};
                const auto& l = hello.layers[begin->index];
                if (present.count(l.diff_id) != 0)
                    return Error{Errc::protocol, "layer " + std::to_string(begin->index) + " sent twice"};
                if (begin->offset != offered[l.diff_id])
                    return Error{Errc::protocol, "layer " + std::to_string(begin->index) + " resumes at " +
                                                     std::to_string(begin->offset) + ", expected " +
                                                     std::to_string(offered[l.diff_id])};
                auto partial = ZP_TRY(cache->partial_path(id, l.diff_id));
                current = std::make_unique<LayerReceiver>(begin->index, l.diff_id, l.size, partial, pool);
                current_raw = begin->codec == proto::Codec::raw;
                ZP_CHECK(current->open(begin->offset, begin->codec));
            } else if (auto* end = std::get_if<proto::LayerEnd>(&msg)) {
                if (!current || end->index != current->index())
                    return Error{Errc::protocol, "LAYER_END for a layer not being sent"};
                ZP_CHECK(current->finish());
                const auto& l = hello.layers[end->index];
                ZP_CHECK(cache->commit(current->partial(), l.diff_id, l.size));
                pinned.insert(l.diff_id);
                present.insert(l.diff_id);
                offered[l.diff_id] = UINT64_MAX;
                ++layers_received;
                current.reset();
            } else if (std::holds_alternative<proto::Done>(msg)) {
                if (current) return Error{Errc::protocol, "DONE inside a layer"};
                for (std::size_t i = 0; i < hello.layers.size(); ++i)
                    if (present.count(hello.layers[i].diff_id) == 0)
                        return Error{Errc::protocol, "the client finished but layer " + std::to_string(i) + " (" +
                                                         short_digest(hello.layers[i].diff_id) + ") was never sent"};
                ReceivedImage img;
                img.agreement_id = id;
                img.config_digest = ag.config_digest;
                img.config = std::move(hello.config);
                img.diff_ids = config.diff_ids;
                img.image_bytes = total;
                img.layers_cached = cached;
                if (options.assemble_archive) {
                    std::vector<fs::path> files;
                    for (const auto& d : img.diff_ids) files.push_back(cache->path_of(d));
                    img.archive = options.image_dir / (to_hex(sha256(as_view(id)), false).substr(0, 16) + "-" +
                                                       to_hex(img.config_digest, false).substr(0, 16) + ".tar");
                    ZP_CHECK(write_docker_archive(img.archive, img.config, img.diff_ids, files));
                }
                cache->drop_partials(id);
                return img;
            } else {
                return Error{Errc::protocol, std::string{"unexpected "} + proto::type_name(header.type) + " message"};
            }
        }
    }
};

Server::Server(std::unique_ptr<Impl> impl) : impl_{std::move(impl)} {}

Server::~Server() {
    stop();
}

Result<std::unique_ptr<Server>> Server::start(ServerOptions options) {
    if (options.cache_dir.empty()) return Error{Errc::invalid_argument, "transfer server: cache_dir is required"};
    if (options.image_dir.empty()) options.image_dir = options.cache_dir / "images";
    auto impl = std::make_unique<Impl>();
    impl->cache = ZP_TRY(LayerCache::open(options.cache_dir, options.cache_max_bytes));
    std::error_code ec;
    fs::create_directories(options.image_dir, ec);
    if (ec) return Error{Errc::io, "cannot create '" + options.image_dir.string() + "': " + ec.message()};
    auto* raw = impl.get();
    impl->tls = ZP_TRY(TlsServer::create([raw](const std::string& identity) -> std::optional<Secret> {
        std::lock_guard lock{raw->mu};
        auto it = raw->agreements.find(identity);
        if (it == raw->agreements.end()) return std::nullopt;
        return it->second.secret;
    }));

    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    addrinfo* res = nullptr;
    auto port = std::to_string(options.port);
    if (int rc = ::getaddrinfo(options.host.empty() ? nullptr : options.host.c_str(), port.c_str(), &hints, &res);
        rc != 0)
        return Error{Errc::io, "cannot resolve '" + options.host + "': " + ::gai_strerror(rc)};
    int fd = ::socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
    int one = 1;
    if (fd >= 0) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || ::bind(fd, res->ai_addr, res->ai_addrlen) != 0 || ::listen(fd, 64) != 0) {
        std::string why = std::strerror(errno);
        ::freeaddrinfo(res);
        if (fd >= 0) ::close(fd);
        return Error{Errc::io, "cannot listen on " + options.host + ":" + port + ": " + why};
    }
    ::freeaddrinfo(res);
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    impl->port = ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                                  : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    impl->listen_fd = fd;
    impl->options = std::move(options);
    impl->acceptor = std::thread([raw] { raw->accept_loop(); });
    return std::make_unique<Server>(std::move(impl));
}

std::uint16_t Server::port() const noexcept {
    return impl_->port;
}

LayerCache& Server::cache() noexcept {
    return *impl_->cache;
}

Result<void> Server::expect(const std::string& agreement_id, const Secret& secret, const Digest& config_digest,
                            std::uint64_t max_bytes) {
    if (agreement_id.empty() || agreement_id.size() > 255)
        return Error{Errc::invalid_argument, "agreement id must be 1..255 bytes"};
    if (secret.is_zero()) return Error{Errc::invalid_key, "the transfer secret is all zero"};
    std::lock_guard lock{impl_->mu};
    auto [it, inserted] = impl_->agreements.try_emplace(agreement_id);
    if (!inserted) return Error{Errc::already_exists, "agreement '" + agreement_id + "' is already expected"};
    it->second.secret = secret;
    it->second.config_digest = config_digest;
    it->second.max_bytes = max_bytes;
    return {};
}

Result<ReceivedImage> Server::wait(const std::string& agreement_id, std::chrono::milliseconds timeout) {
    std::unique_lock lock{impl_->mu};
    auto it = impl_->agreements.find(agreement_id);
    if (it == impl_->agreements.end())
        return Error{Errc::not_found, "agreement '" + agreement_id + "' is not expected"};
    if (!impl_->cv.wait_for(lock, timeout, [&] { return it->second.result.has_value(); }))
        return Error{Errc::timeout, "no complete transfer for agreement '" + agreement_id + "' yet"};
    return *it->second.result;
}

void Server::forget(const std::string& agreement_id) {
    {
        std::lock_guard lock{impl_->mu};
        auto it = impl_->agreements.find(agreement_id);
        if (it == impl_->agreements.end()) return;
        if (it->second.active != nullptr) it->second.active->abort();
        if (it->second.state != Impl::State::busy) impl_->agreements.erase(it);
    }
    impl_->cache->drop_partials(agreement_id);
}

void Server::stop() {
    if (!impl_) return;
    {
        std::lock_guard lock{impl_->mu};
        if (impl_->stopping) return;
        impl_->stopping = true;
        if (impl_->listen_fd >= 0) ::shutdown(impl_->listen_fd, SHUT_RDWR);
        for (int fd : impl_->open_fds) ::shutdown(fd, SHUT_RDWR);
    }
    if (impl_->acceptor.joinable()) impl_->acceptor.join();
    for (auto& w : impl_->workers)
        if (w.thread.joinable()) w.thread.join();
    if (impl_->listen_fd >= 0) ::close(impl_->listen_fd);
    impl_->listen_fd = -1;
}

}  // namespace zeppelin::transfer
