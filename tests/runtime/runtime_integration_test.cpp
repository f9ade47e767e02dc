// The runtime against a real Podman Docker-API service (runc): load a locally built busybox image,
// run it with an agreement's limits, reach its port over a real socket, see a memory hog killed and
// a fork bomb contained, stream logs, stop, recover from a fresh client, and clean up.
//
// Uses ZEPPELIN_DOCKER_HOST when set (scripts/test.sh starts the service); otherwise starts its own
// service with scripts/services.sh in a temporary directory. Skips only when podman is not installed.
#include <arpa/inet.h>
#include <signal.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "support/process.hpp"
#include "support/test_image.hpp"

#include "zeppelin/node/registry.hpp"
#include "zeppelin/runtime/engine.hpp"
#include "zeppelin/runtime/work.hpp"
#include "zeppelin/transfer/client.hpp"
#include "zeppelin/transfer/digest.hpp"
#include "zeppelin/transfer/server.hpp"
#include "zeppelin/transfer/image.hpp"

namespace zeppelin::runtime {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------- the engine service

std::optional<std::string> g_skip;  // reason to skip every test
std::string g_run_dir;              // our own service's directory, when we started one

std::string run_and_capture(const std::string& command, int& status) {
    auto r = test::run_command(command);
    status = r.status;
    return r.out;
}

class PodmanService final : public ::testing::Environment {
  public:
    void SetUp() override {
        const char* host = std::getenv("ZEPPELIN_DOCKER_HOST");
        if (host != nullptr && *host != '\0') return;
        int status = 0;
        (void)run_and_capture("command -v podman", status);
        if (status != 0) {
            g_skip = "podman is not installed (apt-get install podman runc), and ZEPPELIN_DOCKER_HOST is not set";
            return;
        }
        char templ[] = "/tmp/zp-rt-service-XXXXXX";
        if (::mkdtemp(templ) == nullptr) {
            g_skip = "cannot create a temporary directory";
            return;
        }
        g_run_dir = templ;
        const std::string out = run_and_capture(
            "ZEPPELIN_RUN_DIR=" + g_run_dir + " bash " ZEPPELIN_SOURCE_DIR "/scripts/services.sh start 2>&1", status);
        const std::string prefix = "export ZEPPELIN_DOCKER_HOST=";
        const auto at = out.find(prefix);
        if (status != 0 || at == std::string::npos) {
            // Not a skip: podman is installed, so a service that does not start is a failure to see.
            std::fprintf(stderr, "starting the Podman API service failed:\n%s\n", out.c_str());
            std::abort();
        }
        std::string address = out.substr(at + prefix.size());
        address = address.substr(0, address.find('\n'));
        ::setenv("ZEPPELIN_DOCKER_HOST", address.c_str(), 1);
    }
    void TearDown() override {
        if (g_run_dir.empty()) return;
        int status = 0;
        (void)run_and_capture(
            "ZEPPELIN_RUN_DIR=" + g_run_dir + " bash " ZEPPELIN_SOURCE_DIR "/scripts/services.sh stop", status);
        std::error_code ec;
        std::filesystem::remove_all(g_run_dir, ec);
    }
};

const auto* const g_env = ::testing::AddGlobalTestEnvironment(new PodmanService);  // NOLINT: gtest owns it

// ---------------------------------------------------------------- helpers

/// GET over a real TCP socket; the raw reply, or nullopt when nothing answers.
std::optional<std::string> http_get(const std::string& ip, std::uint16_t port, const std::string& path) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return std::nullopt;
    timeval tv{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    ::inet_pton(AF_INET, ip == "0.0.0.0" ? "127.0.0.1" : ip.c_str(), &addr.sin_addr);
    std::optional<std::string> reply;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
        const std::string req = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
        if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
            std::string out;
            std::array<char, 4096> buf{};
            for (;;) {
                const auto n = ::recv(fd, buf.data(), buf.size(), 0);
                if (n <= 0) break;
                out.append(buf.data(), static_cast<std::size_t>(n));
            }
            if (!out.empty()) reply = std::move(out);
        }
    }
    ::close(fd);
    return reply;
}

long long ms_since(Clock::time_point t0) {
    return static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count());
}

std::string unique_run_id() {
    return std::to_string(::getpid()) + "x" + std::to_string(std::time(nullptr) % 1000000);
}

// ---------------------------------------------------------------- fixture

class Runtime : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        if (g_skip) return;
        run_id_ = unique_run_id();
        worker_ = "rtest" + run_id_;
        engine_.emplace(Engine::from_environment().value());
        dir_ = std::make_unique<zeppelin::test::TempDir>("zp-runtime-it");
        // A page unique to this run gives an image id unique to this run: nothing shared with
        // another test run on the same engine.
        test::TestImageOptions options;
        options.tag = "localhost/zeppelin-rt-" + run_id_ + "/busybox:1";
        options.page = "<html><body>zeppelin runtime test " + run_id_ + "</body></html>\n";
        image_ = test::build_test_image(dir_->path() / "busybox.tar", options);
        auto loaded = engine_->load_image(image_.archive);
        if (!loaded) {
            load_error_ = loaded.error().message();
            return;
        }
        image_id_ = loaded->id;
    }

    static void TearDownTestSuite() {
        if (!engine_) return;
        // Whatever a failed test left behind: every container of this run's worker, then the image.
        if (auto all = find_work(*engine_, worker_)) {
            for (const auto& [agreement, work] : *all)
                (void)end_work(*engine_, agreement, {.grace = 0s, .remove_image = false}, worker_);
        }
        (void)engine_->remove_image(image_.tag, true);
        engine_.reset();
        dir_.reset();
    }

    void SetUp() override {
        if (g_skip) GTEST_SKIP() << *g_skip;
        ASSERT_TRUE(load_error_.empty()) << "loading the test image failed: " << load_error_;
    }

    void TearDown() override {
        for (const auto& agreement : agreements_)
            (void)end_work(*engine_, agreement, {.grace = 0s, .remove_image = false}, worker_);
    }

    /// A WorkSpec of a fresh agreement of this run (cleaned up after the test).
    WorkSpec spec(const std::string& name) {
        WorkSpec s;
        s.agreement_id = run_id_ + "-" + name;
        s.worker_id = worker_;
        s.image = image_id_;
        s.memory_bytes = 64u * 1024u * 1024u;
        s.nano_cpus = 500'000'000;
        s.pids_limit = 64;
        s.host_port = 0;
        agreements_.insert(s.agreement_id);
        return s;
    }

    static const Engine& engine() { return *engine_; }

    static inline std::optional<Engine> engine_;
    static inline std::unique_ptr<test::TempDir> dir_;
    static inline test::TestImage image_;
    static inline std::string image_id_;
    static inline std::string load_error_;
    static inline std::string run_id_;
    static inline std::string worker_;
    std::set<std::string> agreements_;
};

// ---------------------------------------------------------------- tests

TEST_F(Runtime, PingAndVersion) {
    ASSERT_TRUE(engine().ping());
    auto v = engine().version();
    ASSERT_TRUE(v) << v.error().message();
    EXPECT_FALSE(v->version.empty());
    std::printf("engine: %s %s (API %s)\n", v->podman ? "Podman" : "Docker", v->version.c_str(),
                v->api_version.c_str());
}

TEST_F(Runtime, LoadedImageHasTheCommittedIdentity) {
    EXPECT_EQ(image_id_, image_.config_digest);  // the id the client commits to on chain
    // The helper is reproducible: the same options give the same identity.
    test::TestImageOptions options;
    options.tag = image_.tag;
    options.page = "<html><body>zeppelin runtime test " + run_id_ + "</body></html>\n";
    const auto rebuilt = test::build_test_image(dir_->path() / "rebuilt.tar", options);
    EXPECT_EQ(rebuilt.config_digest, image_.config_digest);
    EXPECT_EQ(rebuilt.diff_ids, image_.diff_ids);
    auto info = engine().inspect_image(image_.tag);
    ASSERT_TRUE(info) << info.error().message();
    EXPECT_EQ(info->id, image_.config_digest);
    EXPECT_EQ(info->diff_ids, image_.diff_ids);
    EXPECT_EQ(info->os, "linux");

    // The same archive streamed through a callback (as the transfer layer feeds it) loads the same image.
    std::ifstream in{image_.archive, std::ios::binary};
    auto again = engine().load_image([&](std::span<char> buffer) -> Result<std::size_t> {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        return static_cast<std::size_t>(in.gcount());
    });
    ASSERT_TRUE(again) << again.error().message();
    EXPECT_EQ(again->id, image_.config_digest);
}

TEST_F(Runtime, ExportsAnImageByNameWithTheSameIdentity) {
    // A client may name an image its engine holds instead of an archive: the engine's export must
    // carry the identity the client commits to on chain, as the transfer layer computes it.
    const auto out = dir_->path() / "exported.tar";
    auto exported = engine().export_image(image_.tag, out);
    ASSERT_TRUE(exported) << exported.error().message();
    auto info = transfer::inspect_image(out);
    ASSERT_TRUE(info) << info.error().message();
    EXPECT_EQ(transfer::digest_string(info->config_digest), image_.config_digest);
    ASSERT_EQ(info->layers.size(), image_.diff_ids.size());
    for (std::size_t i = 0; i < info->layers.size(); ++i)
        EXPECT_EQ(transfer::digest_string(info->layers[i].diff_id), image_.diff_ids[i]);

    auto missing = engine().export_image("localhost/zeppelin-no-such-image:" + run_id_, dir_->path() / "none.tar");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code(), Errc::not_found) << missing.error().message();
    EXPECT_FALSE(std::filesystem::exists(dir_->path() / "none.tar"));
    EXPECT_FALSE(std::filesystem::exists(dir_->path() / "none.tar.partial"));
}

namespace {
// Runs the zeppelin CLI, returning its exit status and output (stderr included).
std::pair<int, std::string> run_cli(const std::string& args) {
    auto r = test::run_command(std::string{ZEPPELIN_CLI_PATH} + " " + args + " 2>&1");
    return {r.status, r.out};
}
}  // namespace

TEST_F(Runtime, CliInspectsAnArchiveOrAnEngineImage) {
    auto [code, out] = run_cli("image inspect " + image_.archive.string());
    EXPECT_EQ(code, 0) << out;
    EXPECT_NE(out.find("config digest: " + image_.config_digest), std::string::npos) << out;
    auto [code2, out2] = run_cli("image inspect --json " + image_.tag);
    EXPECT_EQ(code2, 0) << out2;
    EXPECT_NE(out2.find("\"source\": \"engine\""), std::string::npos) << out2;
    EXPECT_NE(out2.find(image_.config_digest), std::string::npos) << out2;
    auto [code3, out3] = run_cli("image inspect localhost/zeppelin-no-such-image:" + run_id_);
    EXPECT_EQ(code3, 1) << out3;
    EXPECT_NE(out3.find("Error: "), std::string::npos) << out3;
}

TEST_F(Runtime, ServesHttpWithLimitsThenRecoversAndCleansUp) {
    // Its own image, so that removing it at the end does not disturb the other tests.
    test::TestImageOptions options;
    options.tag = "localhost/zeppelin-rt-" + run_id_ + "/served:1";
    options.page = "served " + run_id_ + "\n";
    options.cmd = {"/bin/busybox", "httpd", "-f", "-v", "-p", "8080", "-h", "/www"};
    const auto image = test::build_test_image(dir_->path() / "served.tar", options);
    auto loaded = engine().load_image(image.archive);
    ASSERT_TRUE(loaded) << loaded.error().message();

    WorkSpec s = spec("serve");
    s.image = loaded->id;
    const auto t0 = Clock::now();
    auto work = start_work(engine(), s);
    ASSERT_TRUE(work) << work.error().message();
    EXPECT_EQ(work->state, "running");
    EXPECT_EQ(work->host_ip, "127.0.0.1");
    ASSERT_NE(work->host_port, 0);
    EXPECT_EQ(work->image_id, image.config_digest);

    std::optional<std::string> reply;
    for (auto deadline = Clock::now() + 10s; Clock::now() < deadline; std::this_thread::sleep_for(50ms)) {
        reply = http_get(work->host_ip, work->host_port, "/index.html");
        if (reply && reply->find(" 200 ") != std::string::npos) break;
    }
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    ASSERT_TRUE(reply) << "nothing answered on " << work->host_ip << ":" << work->host_port;
    EXPECT_NE(reply->find(" 200 "), std::string::npos) << *reply;
    EXPECT_NE(reply->find("served " + run_id_), std::string::npos) << *reply;
    std::printf("start_work -> first HTTP 200: %lld ms\n", static_cast<long long>(ms));

    // The limits as the engine applied them.
    auto info = engine().inspect_container(work->container_id);
    ASSERT_TRUE(info) << info.error().message();
    EXPECT_EQ(info->memory, 64 * 1024 * 1024);
    EXPECT_EQ(info->memory_swap, 64 * 1024 * 1024);
    EXPECT_EQ(info->nano_cpus, 500'000'000);
    EXPECT_EQ(info->pids_limit, 64);
    EXPECT_EQ(info->labels.at("io.zeppelin.agreement"), s.agreement_id);

    // httpd -v logs each answered request on stderr ("[client]:port: response:200").
    std::string out, err;
    auto logs = engine().logs(work->container_id, {}, [&](LogStream st, std::string_view d) {
        (st == LogStream::stderr_ ? err : out).append(d);
        return true;
    });
    ASSERT_TRUE(logs) << logs.error().message();
    EXPECT_NE(err.find("response:200"), std::string::npos) << "stdout: " << out << "\nstderr: " << err;

    // A restarted worker: a fresh client finds the work by its agreement label.
    {
        auto fresh = Engine::from_environment();
        ASSERT_TRUE(fresh);
        auto found = find_work(*fresh, worker_);
        ASSERT_TRUE(found) << found.error().message();
        ASSERT_TRUE(found->contains(s.agreement_id));
        const auto& w = found->at(s.agreement_id);
        EXPECT_EQ(w.container_id, work->container_id);
        EXPECT_EQ(w.host_port, work->host_port);
        EXPECT_EQ(w.state, "running");
        auto one = find_agreement(*fresh, s.agreement_id, worker_);
        ASSERT_TRUE(one) << one.error().message();
        EXPECT_EQ(one->container_id, work->container_id);
    }
    // A second start of a running agreement is refused.
    auto twice = start_work(engine(), s);
    ASSERT_FALSE(twice);
    EXPECT_EQ(twice.error().code(), Errc::already_exists);

    // End of the agreement: container and image gone, nothing left with the label.
    const auto t1 = Clock::now();
    ASSERT_TRUE(end_work(engine(), s.agreement_id, {.grace = 0s, .remove_image = true}, worker_));
    std::printf(
        "end_work (kill, remove container and image): %lld ms\n",
        static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t1).count()));
    EXPECT_EQ(engine().inspect_container(work->container_id).error().code(), Errc::not_found);
    EXPECT_EQ(engine().inspect_image(image.config_digest).error().code(), Errc::not_found);
    auto left = engine().list_containers({std::string{kAgreementLabel} + "=" + s.agreement_id});
    ASSERT_TRUE(left);
    EXPECT_TRUE(left->empty());
    EXPECT_EQ(find_agreement(engine(), s.agreement_id, worker_).error().code(), Errc::not_found);
    EXPECT_FALSE(http_get("127.0.0.1", work->host_port, "/"));
    // Ending twice is fine.
    EXPECT_TRUE(end_work(engine(), s.agreement_id, {}, worker_));
}

TEST_F(Runtime, ChosenHostPortOnAllInterfaces) {
    WorkSpec s = spec("port");
    // A free port: bind to 0, read it back, release it.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    socklen_t len = sizeof addr;
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    ::close(fd);
    s.host_port = ntohs(addr.sin_port);
    s.host_ip = "0.0.0.0";
    auto work = start_work(engine(), s);
    ASSERT_TRUE(work) << work.error().message();
    EXPECT_EQ(work->host_port, s.host_port);
    EXPECT_EQ(work->host_ip, "0.0.0.0");
    std::optional<std::string> reply;
    for (auto deadline = Clock::now() + 10s; Clock::now() < deadline; std::this_thread::sleep_for(50ms)) {
        reply = http_get("127.0.0.1", s.host_port, "/");
        if (reply && reply->find(" 200 ") != std::string::npos) break;
    }
    ASSERT_TRUE(reply);
    EXPECT_NE(reply->find("zeppelin runtime test " + run_id_), std::string::npos);
}

TEST_F(Runtime, MemoryHogIsKilled) {
    WorkSpec s = spec("hog");
    s.memory_bytes = 32u * 1024u * 1024u;
    s.cmd = {"/bin/busybox", "tail", "/dev/zero"};  // buffers an endless line: grows without bound
    auto work = start_work(engine(), s);
    ASSERT_TRUE(work) << work.error().message();
    const auto t0 = Clock::now();
    auto waited = engine().wait_container(work->container_id, 30s);
    ASSERT_TRUE(waited) << waited.error().message();
    auto info = engine().inspect_container(work->container_id);
    ASSERT_TRUE(info);
    std::printf(
        "memory hog (32 MiB limit): exit %d, OOMKilled=%d after %lld ms\n", waited->exit_code, info->state.oom_killed,
        static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count()));
    EXPECT_TRUE(waited->exit_code == 137 || info->state.oom_killed) << "exit code " << waited->exit_code;
    EXPECT_FALSE(info->state.running);
}

TEST_F(Runtime, ForkBombIsContainedByThePidsLimit) {
    WorkSpec s = spec("forkbomb");
    s.pids_limit = 32;
    s.cmd = {"/bin/busybox", "sh", "-c", "f(){ f | f & }; f; sleep 60"};
    auto work = start_work(engine(), s);
    ASSERT_TRUE(work) << work.error().message();
    std::uint64_t peak = 0;
    for (auto deadline = Clock::now() + 5s; Clock::now() < deadline && peak < 32; std::this_thread::sleep_for(100ms)) {
        auto st = engine().stats(work->container_id);
        ASSERT_TRUE(st) << st.error().message();
        peak = std::max(peak, st->pids);
    }
    std::printf("fork bomb: peak %llu processes under a pids limit of 32\n", static_cast<unsigned long long>(peak));
    EXPECT_GT(peak, 8u);  // it did try
    EXPECT_LE(peak, 32u);
    // The host still forks.
    EXPECT_EQ(std::system("true"), 0);
    // And the bomb dies at once.
    const auto t0 = Clock::now();
    ASSERT_TRUE(engine().stop_container(work->container_id, 0s));
    const auto took = Clock::now() - t0;
    EXPECT_LT(took, 8s);
    auto info = engine().inspect_container(work->container_id);
    ASSERT_TRUE(info);
    EXPECT_FALSE(info->state.running);
}

TEST_F(Runtime, StopWithZeroGraceKillsATermIgnorer) {
    WorkSpec s = spec("stubborn");
    s.cmd = {"/bin/busybox", "sh", "-c", "trap '' TERM; while true; do sleep 1; done"};
    auto work = start_work(engine(), s);
    ASSERT_TRUE(work) << work.error().message();
    const auto t0 = Clock::now();
    ASSERT_TRUE(engine().stop_container(work->container_id, 0s));
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    std::printf("stop with grace 0: %lld ms\n", static_cast<long long>(ms));
    EXPECT_LT(ms, 5000);
    auto info = engine().inspect_container(work->container_id);
    ASSERT_TRUE(info);
    EXPECT_FALSE(info->state.running);
    EXPECT_EQ(info->state.exit_code, 137);
    // Stopping a stopped container is fine.
    EXPECT_TRUE(engine().stop_container(work->container_id, 0s));
}

TEST_F(Runtime, LogsAreStreamedAndDemultiplexed) {
    WorkSpec s = spec("logs");
    s.cmd = {"/bin/busybox", "sh", "-c", "echo out1; echo err1 >&2; sleep 0.5; echo out2; exit 3"};
    auto work = start_work(engine(), s);
    ASSERT_TRUE(work) << work.error().message();
    const auto t0 = Clock::now();
    // Follow from the start: the call streams until the container exits.
    std::string out, err;
    LogOptions follow;
    follow.follow = true;
    follow.timeout = 20s;
    std::optional<Clock::time_point> first_line;
    auto r = engine().logs(work->container_id, follow, [&](LogStream st, std::string_view d) {
        (st == LogStream::stderr_ ? err : out).append(d);
        if (!first_line) first_line = Clock::now();
        return true;
    });
    // Streamed: the first line arrived while the container was still sleeping.
    ASSERT_TRUE(first_line);
    EXPECT_GE(Clock::now() - *first_line, 300ms);
    ASSERT_TRUE(r) << r.error().message();
    std::printf("logs follow until exit: %lld ms\n", ms_since(t0));
    EXPECT_EQ(out, "out1\nout2\n");
    EXPECT_EQ(err, "err1\n");
    auto waited = engine().wait_container(work->container_id, 10s);
    ASSERT_TRUE(waited) << waited.error().message();
    EXPECT_EQ(waited->exit_code, 3);

    // Tail.
    std::string last;
    LogOptions tail;
    tail.tail = 1;
    tail.stderr_ = false;
    ASSERT_TRUE(engine().logs(work->container_id, tail, [&](LogStream, std::string_view d) {
        last.append(d);
        return true;
    }));
    EXPECT_EQ(last, "out2\n");
}

TEST_F(Runtime, ExitIsSeenAsAnEvent) {
    WorkSpec s = spec("events");
    s.cmd = {"/bin/busybox", "sh", "-c", "exit 3"};
    EventFilter filter;
    filter.types = {"container"};
    filter.events = {"die"};
    filter.labels = {std::string{kAgreementLabel} + "=" + s.agreement_id};
    std::optional<EngineEvent> died;
    Result<void> listened = Error{Errc::internal, "listener did not run"};
    // Listen live (Podman 4.3 does not replay `since` reliably), from another thread: the Engine is
    // safe to share.
    std::thread listener{[&] {
        listened = engine().events(filter, 30s, [&](const EngineEvent& e) {
            died = e;
            return false;
        });
    }};
    std::this_thread::sleep_for(500ms);
    const auto t0 = Clock::now();
    auto work = start_work(engine(), s);
    listener.join();
    ASSERT_TRUE(work) << work.error().message();
    ASSERT_TRUE(listened) << listened.error().message();
    std::printf("start_work -> die event: %lld ms\n", ms_since(t0));
    ASSERT_TRUE(died);
    EXPECT_EQ(died->id, work->container_id);
    EXPECT_EQ(died->action, "die");
    EXPECT_EQ(died->attributes["exitCode"], "3");
    EXPECT_EQ(died->attributes[std::string{kAgreementLabel}], s.agreement_id);
}

TEST_F(Runtime, MalformedArchivesAreRefused) {
    const auto garbage = dir_->path() / "garbage.tar";
    {
        std::ofstream out{garbage, std::ios::binary};
        const auto bytes = test::random_bytes(5000, 7);
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
    auto r = engine().load_image(garbage);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::engine_error);
    EXPECT_NE(r.error().message().find("refused the image archive"), std::string::npos) << r.error().message();
    std::printf("garbage archive: %s\n", r.error().message().substr(0, 160).c_str());

    // A real archive cut in half.
    const auto cut = dir_->path() / "cut.tar";
    std::filesystem::copy_file(image_.archive, cut);
    std::filesystem::resize_file(cut, image_.bytes / 2);
    auto c = engine().load_image(cut);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code(), Errc::engine_error);
    std::printf("truncated archive: %s\n", c.error().message().substr(0, 160).c_str());
}

TEST_F(Runtime, UnknownImageIsNotFoundAndLeavesNothing) {
    auto i = engine().inspect_image("localhost/zeppelin-no-such-image/x:1");
    ASSERT_FALSE(i);
    EXPECT_EQ(i.error().code(), Errc::not_found);
    WorkSpec s = spec("noimage");
    s.image = "localhost/zeppelin-no-such-image/x:1";
    auto w = start_work(engine(), s);
    ASSERT_FALSE(w);
    EXPECT_EQ(w.error().code(), Errc::not_found) << w.error().message();
    EXPECT_EQ(find_agreement(engine(), s.agreement_id, worker_).error().code(), Errc::not_found);
    EXPECT_EQ(engine().remove_image("localhost/zeppelin-no-such-image/x:1").error().code(), Errc::not_found);
    EXPECT_EQ(engine().inspect_container("zeppelin-no-such-container").error().code(), Errc::not_found);
}

TEST_F(Runtime, EngineCrashMidCallIsAnIoError) {
    // A second API service on the same storage, killed (SIGKILL) while a call waits on it.
    test::TempDir run_dir{"zp-rt-crash"};
    int status = 0;
    const std::string env = "ZEPPELIN_RUN_DIR=" + run_dir.path().string() + " ";
    const std::string out =
        run_and_capture(env + "bash " ZEPPELIN_SOURCE_DIR "/scripts/services.sh start 2>&1", status);
    ASSERT_EQ(status, 0) << out;
    Engine second{EngineAddress{(run_dir.path() / "podman.sock").string()}};
    ASSERT_TRUE(second.ping());

    WorkSpec s = spec("crash");
    s.cmd = {"/bin/busybox", "sleep", "60"};
    auto work = start_work(engine(), s);
    ASSERT_TRUE(work) << work.error().message();

    Result<WaitResult> waited = Error{Errc::internal, "not run"};
    const auto t0 = Clock::now();
    std::thread waiter{[&] { waited = second.wait_container(work->container_id, 30s); }};
    std::this_thread::sleep_for(700ms);
    std::ifstream pid_file{run_dir.path() / "podman.pid"};
    long pid = 0;
    pid_file >> pid;
    ASSERT_GT(pid, 0);
    ::kill(static_cast<pid_t>(pid), SIGKILL);
    waiter.join();
    (void)run_and_capture(env + "bash " ZEPPELIN_SOURCE_DIR "/scripts/services.sh stop 2>&1", status);
    ASSERT_FALSE(waited);
    EXPECT_EQ(waited.error().code(), Errc::io) << waited.error().message();
    EXPECT_LT(Clock::now() - t0, 10s);
    std::printf("engine killed mid-call: %s\n", waited.error().message().c_str());
    // The container outlives the API service and is still ours to clean up (TearDown).
    EXPECT_TRUE(engine().inspect_container(work->container_id));
}

TEST_F(Runtime, AbsentSocketIsAClearError) {
    Engine absent{EngineAddress{"/tmp/zeppelin-absent-" + run_id_ + "/podman.sock"}};
    auto r = absent.load_image(image_.archive);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::io);
    EXPECT_NE(r.error().message().find("not reachable at unix:///tmp/zeppelin-absent-"), std::string::npos)
        << r.error().message();
    std::printf("absent socket: %s\n", r.error().message().c_str());
}

// ---------------------------------------------------------------- pull from the node's registry

// The layers of an archive as files named by diff-id, as the worker's layer cache holds them.
node::RegistryImage cache_like(const std::filesystem::path& archive, const std::filesystem::path& dir) {
    const auto info = transfer::inspect_image(archive).value();
    struct Sink final : transfer::LayerSink {
        const transfer::ImageInfo& info;
        const std::filesystem::path& dir;
        node::RegistryImage out;
        std::ofstream file;
        Sink(const transfer::ImageInfo& i, const std::filesystem::path& d) : info{i}, dir{d} {}
        Result<void> begin(std::size_t index) override {
            const auto& l = info.layers[index];
            out.layers.push_back({l.diff_id, dir / (transfer::digest_string(l.diff_id).substr(7) + ".tar"), l.size, {}});
            file.open(out.layers.back().file, std::ios::binary | std::ios::trunc);
            return {};
        }
        Result<void> data(ByteView chunk) override {
            file.write(reinterpret_cast<const char*>(chunk.data()), static_cast<std::streamsize>(chunk.size()));
            return {};
        }
        Result<void> end(std::size_t) override {
            file.close();
            return {};
        }
    } sink{info, dir};
    transfer::stream_layers(archive, info, std::vector<bool>(info.layers.size(), true), sink).value();
    sink.out.config = info.config;
    return sink.out;
}

TEST_F(Runtime, PullsAVerifiedImageFromTheNodesLoopbackRegistry) {
    // An image of its own (two layers), so that nothing else has loaded it.
    test::TestImageOptions options;
    options.tag = "localhost/zeppelin-rt-" + run_id_ + "/pulled:1";
    options.page = "<html><body>pulled " + run_id_ + "</body></html>\n";
    options.extra_layers = {{{"www/more.html", "more " + run_id_}}};
    const auto built = test::build_test_image(dir_->path() / "pulled.tar", options);
    const auto layers_dir = dir_->path() / "pulled-layers";
    std::filesystem::create_directories(layers_dir);
    auto registry = node::LocalRegistry::start().value();
    const auto published = registry->publish(cache_like(built.archive, layers_dir)).value();

    const auto t0 = Clock::now();
    auto id = engine().pull_image(published.reference, {.tls_verify = false});
    ASSERT_TRUE(id) << id.error().message();
    std::printf("pulled from the loopback registry in %lld ms\n", ms_since(t0));
    EXPECT_EQ(*id, built.config_digest);  // the identity committed on chain
    auto info = engine().inspect_image(built.config_digest);
    ASSERT_TRUE(info) << info.error().message();
    EXPECT_EQ(info->diff_ids, built.diff_ids);
    EXPECT_EQ(info->exposed_tcp_ports, std::vector<std::uint16_t>{8080});
    // Renamed: a lasting tag added, the registry's throwaway name dropped, the image kept.
    auto tagged = engine().tag_image(built.config_digest, "localhost/zeppelin/image", run_id_);
    ASSERT_TRUE(tagged) << tagged.error().message();
    ASSERT_TRUE(engine().remove_image(published.reference));
    info = engine().inspect_image(built.config_digest);
    ASSERT_TRUE(info) << info.error().message();
    EXPECT_EQ(info->repo_tags, std::vector<std::string>{"localhost/zeppelin/image:" + run_id_});
    registry->withdraw(published.name);
    EXPECT_TRUE(engine().remove_image(built.config_digest, true));
}

TEST_F(Runtime, AWithdrawnOrTamperedImageIsNotPulled) {
    test::TestImageOptions options;
    options.tag = "localhost/zeppelin-rt-" + run_id_ + "/tampered:1";
    options.page = "<html><body>tampered " + run_id_ + "</body></html>\n";
    const auto built = test::build_test_image(dir_->path() / "tampered.tar", options);
    const auto layers_dir = dir_->path() / "tampered-layers";
    std::filesystem::create_directories(layers_dir);
    auto image = cache_like(built.archive, layers_dir);
    auto registry = node::LocalRegistry::start().value();

    // Withdrawn before the pull: the engine says so, in words.
    const auto gone = registry->publish(image).value();
    registry->withdraw(gone.name);
    auto r = engine().pull_image(gone.reference, {.tls_verify = false});
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("pulling " + gone.reference), std::string::npos) << r.error().message();
    std::printf("withdrawn: %s\n", r.error().message().c_str());

    // A layer file changed on disk after it was verified (same size): the engine checks every blob
    // against the manifest's digest, refuses it, and keeps nothing.
    {
        std::fstream f{image.layers[0].file, std::ios::in | std::ios::out | std::ios::binary};
        f.seekp(static_cast<std::streamoff>(image.layers[0].size / 2));
        f.put('\x5a');
    }
    const auto tampered = registry->publish(image).value();
    r = engine().pull_image(tampered.reference, {.tls_verify = false});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::engine_error);
    std::printf("tampered: %s\n", r.error().message().c_str());
    EXPECT_EQ(engine().inspect_image(built.config_digest).error().code(), Errc::not_found);
}

// The worker's way: the engine pulls an image while the transfer server receives it, each layer
// served as it lands and finished only once verified. A client sending a layer whose bytes are not
// the committed diff-id gets its transfer refused, and the engine keeps nothing.
TEST_F(Runtime, AnImageIsPulledWhileItArrivesAndOnlyIfEveryLayerVerifies) {
    auto make = [&](const std::string& name, const std::string& page) {
        test::TestImageOptions options;
        options.tag = "localhost/zeppelin-rt-" + run_id_ + "/" + name + ":1";
        options.page = page;
        return test::build_test_image(dir_->path() / (name + ".tar"), options);
    };
    // Two images alike but for one byte of their page: layers of the same size, other diff-ids.
    const auto good = make("arriving", "<html><body>arriving A " + run_id_ + "</body></html>\n");
    const auto evil = make("arriving-evil", "<html><body>arriving B " + run_id_ + "</body></html>\n");
    const auto good_info = transfer::inspect_image(good.archive).value();
    const auto evil_info = transfer::inspect_image(evil.archive).value();
    ASSERT_EQ(good_info.layers[0].size, evil_info.layers[0].size);

    transfer::ServerOptions so;
    so.cache_dir = dir_->path() / "arriving-cache";
    auto registry = node::LocalRegistry::start().value();
    std::mutex mu;
    std::map<std::string, Result<transfer::ReceivedImage>> done;
    std::future<Result<std::string>> pulled;
    so.on_complete = [&](const std::string& id, const Result<transfer::ReceivedImage>& r) {
        std::lock_guard lock{mu};
        done.insert_or_assign(id, r);
    };
    transfer::Server* server_ptr = nullptr;
    so.on_hello = [&](const transfer::IncomingImage& img) {
        node::RegistryImage image;
        image.config = img.config;
        for (std::size_t i = 0; i < img.diff_ids.size(); ++i)
            image.layers.push_back({img.diff_ids[i], {}, img.sizes[i], [&, id = img.agreement_id, d = img.diff_ids[i], n = img.sizes[i]](
                                                                          const node::ChunkWriter& write) {
                node::follow_layer(server_ptr->cache(), id, d, n, write, [&, id] {
                    std::lock_guard lock{mu};
                    const auto it = done.find(id);
                    return it != done.end() && !it->second;
                });
            }});
        const auto ref = registry->publish(image).value().reference;
        pulled = std::async(std::launch::async, [this, ref] { return engine().pull_image(ref, {.tls_verify = false}); });
    };
    auto server = transfer::Server::start(so).value();
    server_ptr = server.get();
    const transfer::Endpoint ep{"127.0.0.1", server->port()};
    transfer::Secret secret;
    secret[0] = 0x11;

    // A layer whose bytes are not the committed ones: the transfer is refused, the pull fails.
    ASSERT_TRUE(server->expect("evil", secret, good_info.config_digest, 1u << 30));
    auto lying = good_info;
    lying.layers[0].blob = evil_info.layers[0].blob;  // the other image's layer under this one's diff-id
    auto sent = transfer::send_image(ep, "evil", secret, evil.archive, lying);
    EXPECT_FALSE(sent);
    ASSERT_TRUE(pulled.valid());
    auto r = pulled.get();
    ASSERT_FALSE(r) << "the engine pulled " << *r;
    std::printf("pull of a layer that failed verification: %s\n", r.error().message().c_str());
    EXPECT_EQ(engine().inspect_image(good.config_digest).error().code(), Errc::not_found);

    // A layer whose bytes do hash to the committed diff-id but whose contents the transfer server
    // refuses (an entry climbing out of the root): the engine's digest check would pass, and still
    // it must keep nothing. (That follow_layer withholds a layer's last byte until it is committed is
    // shown deterministically in src/zeppelin/node/registry_test.cpp; here the refusal usually comes
    // before the engine asks.)
    {
        test::detail::TarWriter tar;
        tar.file("../escape.txt", "out of the root\n");
        const auto layer = tar.finish();
        const auto layer_hex = test::detail::sha256_hex(layer);
        const std::string config = R"({"architecture":"amd64","config":{"Cmd":["/bin/sh"]},"os":"linux",)"
                                   R"("rootfs":{"type":"layers","diff_ids":["sha256:)" + layer_hex + R"("]}})";
        const auto config_hex = test::detail::sha256_hex(config);
        test::detail::TarWriter archive;
        archive.file("manifest.json", R"([{"Config":")" + config_hex + R"(.json","RepoTags":[],"Layers":[")" + layer_hex + R"(/layer.tar"]}])");
        archive.file(config_hex + ".json", config);
        archive.file(layer_hex + "/layer.tar", layer);
        const auto path = dir_->path() / "climbing.tar";
        std::ofstream{path, std::ios::binary} << archive.finish();
        // What a client that skips its own inspection would send (inspect_image refuses this archive).
        transfer::ImageInfo info;
        info.config = to_bytes(std::string_view{config});
        info.config_digest = transfer::sha256(info.config);
        transfer::LayerInfo l;
        l.diff_id = transfer::sha256(as_view(layer));
        l.size = layer.size();
        l.blob = layer_hex + "/layer.tar";
        info.layers.push_back(l);
        secret[0] = 0x33;
        ASSERT_TRUE(server->expect("climbing", secret, info.config_digest, 1u << 30));
        sent = transfer::send_image(ep, "climbing", secret, path, info);
        ASSERT_FALSE(sent);
        std::printf("climbing layer: %s\n", sent.error().message().c_str());
        ASSERT_TRUE(pulled.valid());
        r = pulled.get();
        EXPECT_FALSE(r) << "the engine loaded a layer the transfer server refused";
        EXPECT_EQ(engine().inspect_image("sha256:" + config_hex).error().code(), Errc::not_found);
        if (r) (void)engine().remove_image(*r, true);
    }

    // The true image: pulled as it arrives, with its committed identity.
    secret[0] = 0x22;
    ASSERT_TRUE(server->expect("good", secret, good_info.config_digest, 1u << 30));
    const auto t0 = Clock::now();
    sent = transfer::send_image(ep, "good", secret, good.archive, good_info);
    ASSERT_TRUE(sent) << sent.error().message();
    ASSERT_TRUE(pulled.valid());
    r = pulled.get();
    ASSERT_TRUE(r) << r.error().message();
    std::printf("pulled while arriving: in the engine %lld ms after the transfer began\n", ms_since(t0));
    EXPECT_EQ(*r, good.config_digest);
    EXPECT_TRUE(engine().remove_image(good.config_digest, true));
    server->stop();
}

}  // namespace
}  // namespace zeppelin::runtime
