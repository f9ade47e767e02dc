// Transfer tests over real TLS sockets on 127.0.0.1, and hostile-archive tests.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include "test_images.hpp"
#include "zeppelin/core/hex.hpp"
#include "zeppelin/transfer/client.hpp"
#include "zeppelin/transfer/image.hpp"
#include "zeppelin/transfer/server.hpp"
#include "zeppelin/transfer/tls.hpp"

namespace fs = std::filesystem;
using namespace zeppelin;
using namespace zeppelin::transfer;
using namespace zeppelin::transfer::test;
using namespace std::chrono_literals;

namespace {

class TempDir {
  public:
    TempDir() {
        static std::atomic<int> n{0};
        path_ =
            fs::temp_directory_path() / ("zeppelin-transfer-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
        fs::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    const fs::path& path() const { return path_; }

  private:
    fs::path path_;
};

Secret secret_of(std::uint8_t seed) {
    Secret s;
    for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<std::uint8_t>(seed + i * 7 + 1);
    return s;
}

#define EXPECT_ERROR(expr, errc, text)                                                         \
    do {                                                                                       \
        auto r_ = (expr);                                                                      \
        ASSERT_FALSE(r_.has_value()) << "expected an error containing: " << (text);            \
        EXPECT_EQ(r_.error().code(), (errc)) << r_.error().message();                          \
        EXPECT_NE(r_.error().message().find(text), std::string::npos) << r_.error().message(); \
    } while (false)

struct Fixture : ::testing::Test {
    TempDir dir;
    std::unique_ptr<Server> server;
    void SetUp() override {
        ServerOptions o;
        o.cache_dir = dir.path() / "cache";
        o.io_timeout = 10s;
        server = Server::start(o).value();
    }
    Endpoint endpoint() const { return {"127.0.0.1", server->port()}; }
    BuiltImage image3(const std::string& name) {
        std::vector<Bytes> layers = {make_layer(1, 4, 1 << 20, false), make_layer(2, 8, 512 << 10, true),
                                     make_layer(3, 2, 100000, false)};
        return make_docker_archive(dir.path() / name, layers);
    }
};

// ---------------------------------------------------------------- images

TEST(Image, DockerArchiveIdentity) {
    TempDir d;
    std::vector<Bytes> layers = {make_layer(7, 2, 10000, false), make_layer(8, 1, 5000, true)};
    auto img = make_docker_archive(d.path() / "img.tar", layers, Compression::gzip);
    auto info = inspect_image(img.path).value();
    EXPECT_EQ(info.format, ArchiveFormat::docker_archive);
    EXPECT_EQ(info.config_digest, img.config_digest);
    ASSERT_EQ(info.layers.size(), 2U);
    EXPECT_EQ(info.layers[0].diff_id, img.diff_ids[0]);
    EXPECT_EQ(info.layers[1].size, layers[1].size());
    EXPECT_EQ(info.total_bytes(), img.bytes);
    EXPECT_EQ(info.repo_tags, std::vector<std::string>{"zeppelin/test:latest"});
}

TEST(Image, OciLayoutIdentity) {
    TempDir d;
    std::vector<Bytes> layers = {make_layer(9, 2, 20000, true), make_layer(10, 1, 3000, false)};
    auto img = make_oci_archive(d.path() / "oci.tar", layers);
    auto info = inspect_image(img.path).value();
    EXPECT_EQ(info.format, ArchiveFormat::oci_layout);
    EXPECT_EQ(info.config_digest, img.config_digest);
    EXPECT_EQ(info.diff_ids(), img.diff_ids);
}

TEST(Image, ReassembledArchiveRoundTrips) {
    TempDir d;
    std::vector<Bytes> layers = {make_layer(11, 1, 7000, false), make_layer(12, 1, 9000, false)};
    auto img = make_docker_archive(d.path() / "in.tar", layers);
    std::vector<fs::path> files;
    for (std::size_t i = 0; i < layers.size(); ++i) {
        files.push_back(d.path() / ("l" + std::to_string(i)));
        write_file(files.back(), layers[i]);
    }
    auto info = inspect_image(img.path).value();
    ASSERT_TRUE(write_docker_archive(d.path() / "out.tar", info.config, info.diff_ids(), files, {"a:b"}));
    auto again = inspect_image(d.path() / "out.tar").value();
    EXPECT_EQ(again.config_digest, info.config_digest);
    EXPECT_EQ(again.diff_ids(), info.diff_ids());
}

struct HostileCase {
    const char* name;
    std::vector<TarEntry> extra;
    Errc code;
    const char* text;
};

TEST(HostileArchive, OuterArchiveMembers) {
    TempDir d;
    std::vector<HostileCase> cases = {
        {"dotdot", {{"../evil", to_bytes(std::string{"x"}), '0', ""}}, Errc::hostile_archive, "'..' component"},
        {"dotdot-inner",
         {{"a/../../evil", to_bytes(std::string{"x"}), '0', ""}},
         Errc::hostile_archive,
         "'..' component"},
        {"absolute", {{"/etc/passwd", to_bytes(std::string{"x"}), '0', ""}}, Errc::hostile_archive, "absolute path"},
        {"symlink-out",
         {{"escape", {}, '2', "../../etc/passwd"}},
         Errc::hostile_archive,
         "points out of the archive tree"},
        {"symlink-abs", {{"escape", {}, '2', "/etc/shadow"}}, Errc::hostile_archive, "points out of the archive tree"},
        {"hardlink-out", {{"hl", {}, '1', "../outside"}}, Errc::hostile_archive, "points out of the archive tree"},
        {"device", {{"dev/console", {}, '3', ""}}, Errc::hostile_archive, "device node"},
        {"fifo", {{"pipe", {}, '6', ""}}, Errc::hostile_archive, "fifo"},
        {"duplicate",
         {{"manifest.json", to_bytes(std::string{"[]"}), '0', ""}},
         Errc::hostile_archive,
         "appears twice"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        auto img = make_docker_archive(d.path() / (std::string{c.name} + ".tar"), {make_layer(1, 1, 1000, false)},
                                       Compression::none, c.extra);
        EXPECT_ERROR(inspect_image(img.path), c.code, c.text);
    }
}

TEST(HostileArchive, LayerContents) {
    TempDir d;
    struct Case {
        const char* name;
        TarEntry entry;
        const char* text;
    };
    std::vector<Case> cases = {
        {"dotdot", {"../../etc/cron.d/x", to_bytes(std::string{"x"}), '0', ""}, "'..' component"},
        {"absolute", {"/etc/passwd", to_bytes(std::string{"x"}), '0', ""}, "absolute path"},
        {"device", {"dev/sda", {}, '3', ""}, "character device"},
        {"fifo", {"run/pipe", {}, '6', ""}, "fifo"},
        {"hardlink", {"etc/x", {}, '1', "../../../etc/shadow"}, "hard link"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        auto layer = make_tar({{"ok", to_bytes(std::string{"fine"}), '0', ""}, c.entry});
        auto img = make_docker_archive(d.path() / (std::string{c.name} + ".tar"), {layer});
        EXPECT_ERROR(inspect_image(img.path), Errc::hostile_archive, c.text);
    }
}

TEST(HostileArchive, DecompressionBombAndLimits) {
    TempDir d;
    Bytes zeros(16 << 20, 0);
    auto layer = make_tar({{"zeros", zeros, '0', ""}});
    auto img = make_docker_archive(d.path() / "bomb.tar", {layer}, Compression::gzip);
    ImageLimits tight;
    tight.ratio_floor = 1 << 20;
    tight.max_ratio = 100;
    EXPECT_ERROR(inspect_image(img.path, tight), Errc::limit_exceeded, "decompression bomb");
    ImageLimits small;
    small.max_image_bytes = 8 << 20;
    EXPECT_ERROR(inspect_image(img.path, small), Errc::limit_exceeded, "limit");
    // an oversize member (uncompressed) is refused from its header alone
    auto plain = make_docker_archive(d.path() / "big.tar", {layer});
    EXPECT_ERROR(inspect_image(plain.path, small), Errc::limit_exceeded, "more than the image size limit");
}

TEST(HostileArchive, Truncated) {
    TempDir d;
    auto img = make_docker_archive(d.path() / "t.tar", {make_layer(5, 2, 200000, false)});
    auto bytes = read_file(img.path);
    bytes.resize(bytes.size() / 2);
    write_file(d.path() / "cut.tar", bytes);
    EXPECT_ERROR(inspect_image(d.path() / "cut.tar"), Errc::hostile_archive, "truncated");
    // a truncated layer tar inside an intact archive
    auto layer = make_layer(6, 1, 50000, false);
    layer.resize(20000);
    auto img2 = make_docker_archive(d.path() / "t2.tar", {layer});
    EXPECT_ERROR(inspect_image(img2.path), Errc::hostile_archive, "truncated");
}

TEST(HostileArchive, ManifestLies) {
    TempDir d;
    auto layer = make_layer(1, 1, 1000, false);
    auto base = make_docker_archive(d.path() / "base.tar", {layer});
    auto config = make_config({sha256(layer)});
    auto config_name = to_hex(sha256(as_view(config)), false) + ".json";
    auto with = [&](const std::string& name, const std::string& manifest, const std::string& cfg_name,
                    const std::string& cfg, const std::vector<TarEntry>& layer_entries) {
        std::vector<TarEntry> entries = layer_entries;
        entries.push_back({cfg_name, to_bytes(cfg), '0', ""});
        entries.push_back({"manifest.json", to_bytes(manifest), '0', ""});
        auto p = d.path() / name;
        write_file(p, make_tar(entries));
        return p;
    };
    std::vector<TarEntry> one_layer = {{"l1/layer.tar", layer, '0', ""}};
    auto manifest = [&](const std::string& cfg, const std::string& layers) {
        return R"([{"Config":")" + cfg + R"(","RepoTags":[],"Layers":[)" + layers + "]}]";
    };
    // layer referenced but missing
    auto config2 = make_config({sha256(layer), sha256(layer)});
    auto config2_name = to_hex(sha256(as_view(config2)), false) + ".json";
    EXPECT_ERROR(inspect_image(with("missing.tar", manifest(config2_name, R"("l1/layer.tar","l2/layer.tar")"),
                                    config2_name, config2, one_layer)),
                 Errc::hostile_archive, "missing from the archive");
    // wrong counts
    EXPECT_ERROR(inspect_image(with("counts.tar", manifest(config_name, R"("l1/layer.tar","l1/layer.tar")"),
                                    config_name, config, one_layer)),
                 Errc::hostile_archive, "lists 2 layers but the config has 1 diff-ids");
    // diff-id mismatch: the config claims another layer
    Digest other = sha256(as_view(std::string{"other"}));
    auto lying = make_config({other});
    auto lying_name = to_hex(sha256(as_view(lying)), false) + ".json";
    EXPECT_ERROR(
        inspect_image(with("diffid.tar", manifest(lying_name, R"("l1/layer.tar")"), lying_name, lying, one_layer)),
        Errc::digest_mismatch, "but the config's diff-id is " + digest_string(other));
    // config digest mismatch: the name promises another digest
    auto wrong_name = to_hex(other, false) + ".json";
    EXPECT_ERROR(
        inspect_image(with("cfg.tar", manifest(wrong_name, R"("l1/layer.tar")"), wrong_name, config, one_layer)),
        Errc::digest_mismatch, "not to the digest in its name");
    // not an image at all
    write_file(d.path() / "junk.tar", to_bytes(std::string(3000, 'j')));
    EXPECT_ERROR(inspect_image(d.path() / "junk.tar"), Errc::hostile_archive, "not a tar archive");
}

// ---------------------------------------------------------------- transfer

TEST_F(Fixture, EndToEndIntegrityThenDeduplicated) {
    auto img = image3("img.tar");
    auto info = inspect_image(img.path).value();
    ASSERT_TRUE(server->expect("agreement-1", secret_of(1), info.config_digest, 1ULL << 30));
    std::vector<std::string> lines;
    SendOptions opt;
    opt.progress = [&](const Progress& p) {
        if (p.finished) lines = ProgressRenderer::render(p);
    };
    auto stats = send_image(endpoint(), "agreement-1", secret_of(1), img.path, info, opt).value();
    EXPECT_EQ(stats.layers_sent, 3U);
    EXPECT_GE(stats.layers_compressed, 1U);  // the text layer
    auto got = server->wait("agreement-1", 10s).value();
    EXPECT_EQ(got.layers_received, 3U);
    // the assembled archive carries exactly the committed identity
    auto again = inspect_image(got.archive).value();
    EXPECT_EQ(again.config_digest, info.config_digest);
    EXPECT_EQ(again.diff_ids(), info.diff_ids());
    ASSERT_EQ(lines.size(), 4U);
    EXPECT_NE(lines[0].find(": Pushed"), std::string::npos) << lines[0];

    // second transfer of the same image (another agreement): only the handshake and HELLO move
    ASSERT_TRUE(server->expect("agreement-2", secret_of(2), info.config_digest, 1ULL << 30));
    auto stats2 = send_image(endpoint(), "agreement-2", secret_of(2), img.path, info).value();
    EXPECT_EQ(stats2.layers_sent, 0U);
    EXPECT_EQ(stats2.layers_skipped, 3U);
    EXPECT_LE(stats2.wire_bytes * 100, info.total_bytes()) << stats2.wire_bytes << " of " << info.total_bytes();
    auto got2 = server->wait("agreement-2", 10s).value();
    EXPECT_EQ(got2.layers_cached, 3U);
    EXPECT_EQ(inspect_image(got2.archive).value().diff_ids(), info.diff_ids());
}

TEST_F(Fixture, TheProbeSpecArrivesWithTheHelloAlsoWhenNoLayerIsSent) {
    std::mutex mu;
    std::vector<std::pair<std::string, std::optional<protocol::SpecReveal>>> hellos;
    ServerOptions o;
    o.cache_dir = dir.path() / "spec-cache";
    o.io_timeout = 10s;
    o.on_hello = [&](const IncomingImage& img) {
        std::lock_guard lock{mu};
        hellos.emplace_back(img.agreement_id, img.spec);
    };
    auto worker = Server::start(o).value();
    const Endpoint at{"127.0.0.1", worker->port()};
    auto img = image3("img.tar");
    auto info = inspect_image(img.path).value();
    SendOptions opt;
    opt.spec = protocol::SpecReveal{R"({"kind":"http","path":"/health"})", {}};
    opt.spec->salt.bytes.fill(0x5a);
    ASSERT_TRUE(worker->expect("first", secret_of(13), info.config_digest, 1ULL << 30));
    EXPECT_EQ(send_image(at, "first", secret_of(13), img.path, info, opt).value().layers_sent, 3U);
    // Another agreement for the same image: the worker holds every layer, the spec still travels.
    ASSERT_TRUE(worker->expect("second", secret_of(14), info.config_digest, 1ULL << 30));
    EXPECT_EQ(send_image(at, "second", secret_of(14), img.path, info, opt).value().layers_sent, 0U);
    // A client without a spec (an older one, or a plain transfer): the HELLO says none.
    ASSERT_TRUE(worker->expect("third", secret_of(15), info.config_digest, 1ULL << 30));
    ASSERT_TRUE(send_image(at, "third", secret_of(15), img.path, info));
    std::lock_guard lock{mu};
    ASSERT_EQ(hellos.size(), 3U);
    EXPECT_EQ(hellos[0].first, "first");
    EXPECT_EQ(hellos[0].second, opt.spec);
    EXPECT_EQ(hellos[1].first, "second");
    EXPECT_EQ(hellos[1].second, opt.spec);
    EXPECT_FALSE(hellos[2].second);
}

TEST_F(Fixture, AnOversizedSpecIsRefusedBeforeConnecting) {
    auto img = image3("img.tar");
    auto info = inspect_image(img.path).value();
    ASSERT_TRUE(server->expect("big-spec", secret_of(16), info.config_digest, 1ULL << 30));
    SendOptions opt;
    opt.spec = protocol::SpecReveal{std::string(protocol::kMaxSpec + 1, ' '), {}};
    EXPECT_ERROR(send_image(endpoint(), "big-spec", secret_of(16), img.path, info, opt), Errc::invalid_argument,
                 "the probe spec is 4097 bytes, more than the 4096 bytes that travel with the image");
    opt.spec->spec = R"({"kind":"tcp"})";
    EXPECT_TRUE(send_image(endpoint(), "big-spec", secret_of(16), img.path, info, opt)) << "the agreement is still open";
}

TEST_F(Fixture, OciImageWithDuplicateLayer) {
    auto l = make_layer(21, 1, 300000, false);
    auto img = make_oci_archive(dir.path() / "oci.tar", {l, make_layer(22, 1, 1000, true), l});
    auto info = inspect_image(img.path).value();
    ASSERT_TRUE(server->expect("oci", secret_of(3), info.config_digest, 1ULL << 30));
    auto stats = send_image(endpoint(), "oci", secret_of(3), img.path, info).value();
    EXPECT_EQ(stats.layers_sent, 2U);  // the duplicate diff-id moves once
    auto got = server->wait("oci", 10s).value();
    EXPECT_EQ(inspect_image(got.archive).value().diff_ids(), info.diff_ids());
}

TEST_F(Fixture, ResumesAfterCutConnection) {
    auto img = image3("img.tar");
    auto info = inspect_image(img.path).value();
    ASSERT_TRUE(server->expect("cut", secret_of(4), info.config_digest, 1ULL << 30));
    SendOptions opt;
    opt.compress = false;
    opt.test_drop_after_bytes = info.layers[0].size + (1 << 20) + 2000;  // inside the 2nd layer
    std::vector<std::string> errors;  // each failed attempt, told as it fails
    std::string last_error = "?";
    opt.progress = [&](const Progress& p) {
        if (!p.error.empty() && (errors.empty() || errors.back() != p.error)) errors.push_back(p.error);
        last_error = p.error;
    };
    auto stats = send_image(endpoint(), "cut", secret_of(4), img.path, info, opt).value();
    EXPECT_EQ(stats.attempts, 2);
    ASSERT_EQ(errors.size(), 1U);
    EXPECT_NE(errors[0].find("transfer to 127.0.0.1:"), std::string::npos) << errors[0];
    EXPECT_NE(errors[0].find("(attempt 1 of 5)"), std::string::npos) << errors[0];
    EXPECT_EQ(last_error, "") << "the finished transfer shows no failure";
    EXPECT_GT(stats.resumed_from, 0U);  // resumed inside the partly sent layer
    // finished layers were not sent again: total layer bytes streamed <= image + one chunk
    EXPECT_LE(stats.layer_bytes_sent, info.total_bytes() + (1 << 20));
    auto got = server->wait("cut", 10s).value();
    EXPECT_EQ(got.connections, 2U);
    EXPECT_EQ(inspect_image(got.archive).value().diff_ids(), info.diff_ids());
}

TEST_F(Fixture, EveryFailedConnectIsToldAsItFails) {
    // A worker nobody can connect to (here: a port nothing listens on): each attempt's failure
    // reaches the progress callback at once, naming the address, not only the last one's.
    auto img = image3("img.tar");
    auto info = inspect_image(img.path).value();
    const auto closed = endpoint().port;
    server->stop();
    SendOptions opt;
    opt.max_attempts = 3;
    opt.retry_delay = 1ms;
    std::vector<std::string> errors;
    opt.progress = [&](const Progress& p) {
        if (!p.error.empty() && (errors.empty() || errors.back() != p.error)) errors.push_back(p.error);
    };
    EXPECT_ERROR(send_image(Endpoint{"127.0.0.1", closed}, "nobody", secret_of(12), img.path, info, opt), Errc::io,
                 "failed after 3 attempts");
    ASSERT_EQ(errors.size(), 3U);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_NE(errors[i].find("cannot connect to 127.0.0.1:" + std::to_string(closed)), std::string::npos) << errors[i];
        EXPECT_NE(errors[i].find("(attempt " + std::to_string(i + 1) + " of 3)"), std::string::npos) << errors[i];
    }
}

TEST_F(Fixture, WrongKeyRefused) {
    auto img = image3("img.tar");
    auto info = inspect_image(img.path).value();
    ASSERT_TRUE(server->expect("key", secret_of(5), info.config_digest, 1ULL << 30));
    EXPECT_ERROR(send_image(endpoint(), "key", secret_of(6), img.path, info), Errc::auth_failed,
                 "refused the transfer key");
    EXPECT_ERROR(send_image(endpoint(), "unknown", secret_of(5), img.path, info), Errc::auth_failed,
                 "refused the transfer key");
    // the right key still works afterwards
    EXPECT_TRUE(send_image(endpoint(), "key", secret_of(5), img.path, info));
}

TEST_F(Fixture, ReplayedSecretRefused) {
    auto img = image3("img.tar");
    auto info = inspect_image(img.path).value();
    ASSERT_TRUE(server->expect("once", secret_of(7), info.config_digest, 1ULL << 30));
    ASSERT_TRUE(send_image(endpoint(), "once", secret_of(7), img.path, info));
    EXPECT_ERROR(send_image(endpoint(), "once", secret_of(7), img.path, info), Errc::auth_failed,
                 "already used for a completed transfer (replay refused)");
}

TEST_F(Fixture, WrongDigestAndLimitRefused) {
    auto img = image3("img.tar");
    auto info = inspect_image(img.path).value();
    Digest other = sha256(as_view(std::string{"another image"}));
    ASSERT_TRUE(server->expect("digest", secret_of(8), other, 1ULL << 30));
    EXPECT_ERROR(send_image(endpoint(), "digest", secret_of(8), img.path, info), Errc::digest_mismatch,
                 "but agreement 'digest' commits to " + digest_string(other));
    EXPECT_EQ(server->wait("digest", 1s).error().code(), Errc::digest_mismatch);
    ASSERT_TRUE(server->expect("small", secret_of(9), info.config_digest, 1000));
    EXPECT_ERROR(send_image(endpoint(), "small", secret_of(9), img.path, info), Errc::limit_exceeded,
                 "larger than the 1000 bytes allowed");
}

// A client that skips its own checks: the worker must still refuse what does not match.
TEST_F(Fixture, WorkerVerifiesLayersItself) {
    // 1. a layer whose content differs from the config's diff-id
    auto layer = make_layer(31, 1, 200000, false);
    auto img = make_docker_archive(dir.path() / "a.tar", {layer});
    auto info = inspect_image(img.path).value();
    auto lie = info;
    lie.layers[0].diff_id = sha256(as_view(std::string{"not this layer"}));
    lie.config = to_bytes(make_config({lie.layers[0].diff_id}));
    lie.config_digest = sha256(lie.config);
    ASSERT_TRUE(server->expect("lie", secret_of(10), lie.config_digest, 1ULL << 30));
    EXPECT_ERROR(send_image(endpoint(), "lie", secret_of(10), img.path, lie), Errc::digest_mismatch,
                 "but the image config's diff-id is");
    // 2. a hostile layer tar with a correct diff-id
    auto bad = make_tar({{"ok", to_bytes(std::string{"fine"}), '0', ""},
                         {"../../root/.ssh/authorized_keys", to_bytes(std::string{"k"}), '0', ""}});
    auto bad_img = make_docker_archive(dir.path() / "b.tar", {bad});
    ImageInfo bad_info;
    bad_info.config = to_bytes(make_config({sha256(bad)}));
    bad_info.config_digest = sha256(bad_info.config);
    bad_info.layers.push_back(
        {sha256(bad), bad.size(), to_hex(sha256(bad), false).substr(0, 16) + "0/layer.tar", {}, {}});
    ASSERT_TRUE(server->expect("hostile", secret_of(11), bad_info.config_digest, 1ULL << 30));
    EXPECT_ERROR(send_image(endpoint(), "hostile", secret_of(11), bad_img.path, bad_info), Errc::hostile_archive,
                 "'..' component");
    // nothing of either was committed to the cache
    EXPECT_FALSE(server->cache().contains(sha256(bad)));
    EXPECT_FALSE(server->cache().contains(lie.layers[0].diff_id));
}

// ---------------------------------------------------------------- TLS connection

// A listening socket on 127.0.0.1, any port (written to `a`); -1 on failure.
int listen_loopback(sockaddr_in& a) {
    const int ls = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (ls < 0) return -1;
    a = sockaddr_in{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(ls, 1) != 0 ||
        ::getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        ::close(ls);
        return -1;
    }
    return ls;
}

// write_all() is a send, not a queue: a peer that writes a little and then keeps the connection
// open without reading (the log channel following a container's output) must still deliver it.
TEST(Tls, SmallWriteReachesThePeerWithoutFlushOrClose) {
    auto server = TlsServer::create([](const std::string&) { return std::optional<Secret>{secret_of(40)}; }).value();
    sockaddr_in a{};
    const int ls = listen_loopback(a);
    ASSERT_GE(ls, 0);
    std::promise<void> done;
    std::thread writer{[&] {
        const int fd = ::accept(ls, nullptr, nullptr);
        auto conn = server->accept(fd, 5s);
        if (!conn) return;
        const std::uint8_t line[] = {'h', 'i', '\n'};
        (void)(*conn)->write_all(ByteView{line, sizeof line});
        done.get_future().wait();  // keeps the connection open, neither reading nor closing
    }};
    auto conn = TlsConnection::connect({"127.0.0.1", ntohs(a.sin_port)}, "logs", secret_of(40), 5s);
    ASSERT_TRUE(conn) << conn.error().message();
    set_socket_timeout((*conn)->fd(), 2000ms);
    std::uint8_t got[3] = {};
    auto r = (*conn)->read_exact(got, sizeof got);
    done.set_value();
    writer.join();
    ::close(ls);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(got), sizeof got), "hi\n");
}

// Both ends settle on TLS 1.3 with the one configured suite (AES-128-GCM with SHA-256, the
// hash the external PSK is bound to), and the PSK is what authenticated the handshake.
TEST(Tls, BothEndsNegotiateTls13WithTheConfiguredSuite) {
    EXPECT_STREQ(cipher_suite(), "TLS_AES_128_GCM_SHA256");
    auto server = TlsServer::create([](const std::string&) { return std::optional<Secret>{secret_of(41)}; }).value();
    sockaddr_in a{};
    const int ls = listen_loopback(a);
    ASSERT_GE(ls, 0);
    std::string server_side;
    std::thread acceptor{[&] {
        const int fd = ::accept(ls, nullptr, nullptr);
        auto conn = server->accept(fd, 5s);
        if (!conn) return;
        server_side = (*conn)->negotiated();
        std::uint8_t b[1] = {};
        (void)(*conn)->read_exact(b, 1);
        (void)(*conn)->write_all(ByteView{b, 1});
    }};
    auto conn = TlsConnection::connect({"127.0.0.1", ntohs(a.sin_port)}, "suite", secret_of(41), 5s);
    ASSERT_TRUE(conn) << conn.error().message();
    const std::uint8_t ping[1] = {7};
    ASSERT_TRUE((*conn)->write_all(ByteView{ping, 1}));
    std::uint8_t pong[1] = {};
    ASSERT_TRUE((*conn)->read_exact(pong, 1));
    acceptor.join();
    ::close(ls);
    EXPECT_EQ(pong[0], 7);
    const std::string expected = std::string{"TLSv1.3 "} + cipher_suite();
    EXPECT_EQ((*conn)->negotiated(), expected);
    EXPECT_EQ(server_side, expected);
}

TEST(Cache, LruEvictionKeepsBound) {
    TempDir d;
    auto cache = LayerCache::open(d.path(), 250).value();
    std::vector<Digest> ds;
    for (int i = 0; i < 3; ++i) {
        Bytes b(100, static_cast<std::uint8_t>(i));
        ds.push_back(sha256(b));
        write_file(d.path() / "f", b);
        ASSERT_TRUE(cache->commit(d.path() / "f", ds.back(), 100));
        cache->unpin(ds.back());
        if (i == 1) {
            EXPECT_TRUE(cache->contains(ds[0]));  // touch layer 0: layer 1 becomes LRU
        }
    }
    EXPECT_LE(cache->total_bytes(), 250U);
    EXPECT_TRUE(cache->contains(ds[0]));
    EXPECT_FALSE(cache->contains(ds[1]));
    EXPECT_TRUE(cache->contains(ds[2]));
    // reopening finds the same layers
    auto again = LayerCache::open(d.path(), 250).value();
    EXPECT_EQ(again->layer_count(), 2U);
}

}  // namespace
