// Image transfer benchmark. In one run it prints:
//   1. throughput of an encrypted transfer of N bytes of incompressible (random) layers, next to
//      a plain TCP copy of the same archive over the same loopback (sender reads the file, the
//      receiver writes it to disk, like `nc`), and their ratio (target >= 0.70);
//   2. throughput and wire size of a transfer of compressible (text) layers, same baseline;
//   3. bytes moved by a repeated transfer of the same image (layer cache), vs the image size;
//   4. the machine's ceiling: the best ratio any verified encrypted transfer could reach here,
//      from single-core AEAD and SHA-256 speeds measured in-process and the plain copy's CPU cost.
// The transfer figures include everything the worker does before it would load the image:
// TLS 1.3 (see transfer::cipher_suite()), zstd decision/compression, sha256 of every layer, the
// layer tar scan, the cache write and commit. Archive assembly for /images/load is timed on its own.
//
// Fairness: both measured phases write ~1 GB to the disk under --dir. Before each timed phase the
// bench removes the previous phase's output, flushes dirty pages (syncfs) and hands the phase
// recently freed memory (see settle()), so no phase is throttled by writeback of another's data
// or by this VM's cost of memory the host took back. The plain copy and the encrypted transfer run
// alternately --repeat times (each encrypted run into a fresh, empty layer cache); the table shows
// the median of each and the ratio of the medians.
// Usage: transfer_bench [--size 1G|256M|...] [--dir /tmp] [--repeat 3]
#include <archive.h>
#include <archive_entry.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/transfer/client.hpp"
#include "zeppelin/transfer/image.hpp"
#include "zeppelin/transfer/server.hpp"
#include "zeppelin/transfer/tls.hpp"

namespace fs = std::filesystem;
using namespace zeppelin;
using namespace zeppelin::transfer;
using Clock = std::chrono::steady_clock;

namespace {

double thread_cpu_seconds() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}
double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}
// CPU seconds (user + system, all threads) this process has used: the bench runs both ends, so
// this is what a transfer costs whatever else loads the machine.
double cpu_seconds() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
    return s(u.ru_utime) + s(u.ru_stime);
}
double mbps(std::uint64_t bytes, double s) {
    return static_cast<double>(bytes) / 1e6 / s;
}

std::uint64_t parse_size(const std::string& s) {
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    std::string unit = end;
    double mul = 1;
    if (unit == "K" || unit == "k") mul = 1024;
    if (unit == "M" || unit == "m") mul = 1024.0 * 1024;
    if (unit == "G" || unit == "g") mul = 1024.0 * 1024 * 1024;
    return static_cast<std::uint64_t>(v * mul);
}

// Writes a docker-archive whose layers are tars of one file each of `layer_bytes` bytes.
ImageInfo build_image(const fs::path& path, std::uint64_t total, bool compressible, std::uint64_t seed) {
    const std::uint64_t layer_payload = std::min<std::uint64_t>(total, 64ULL << 20);
    std::vector<std::string> names;
    std::vector<Digest> diff_ids;
    archive* out = archive_write_new();
    archive_write_set_format_pax_restricted(out);
    archive_write_open_filename(out, path.c_str());
    std::mt19937_64 rng{seed};
    Bytes payload(layer_payload);
    for (std::uint64_t done = 0, i = 0; done < total; done += layer_payload, ++i) {
        if (compressible) {
            std::string text;
            while (text.size() < payload.size())
                text += "GET /api/v1/items/" + std::to_string(rng() % 100000) + " HTTP/1.1 200 zeppelin worker ok\n";
            std::memcpy(payload.data(), text.data(), payload.size());
        } else {
            for (std::size_t k = 0; k + 8 <= payload.size(); k += 8) {
                auto v = rng();
                std::memcpy(payload.data() + k, &v, 8);
            }
        }
        // layer tar in memory: header + payload + padding + end blocks
        Bytes layer;
        layer.reserve(payload.size() + 4096);
        archive* l = archive_write_new();
        archive_write_set_format_pax_restricted(l);
        archive_write_set_bytes_in_last_block(l, 1);
        archive_write_open(
            l, &layer, nullptr,
            [](archive*, void* u, const void* b, std::size_t n) -> la_ssize_t {
                auto* v = static_cast<Bytes*>(u);
                v->insert(v->end(), static_cast<const std::uint8_t*>(b), static_cast<const std::uint8_t*>(b) + n);
                return static_cast<la_ssize_t>(n);
            },
            nullptr);
        archive_entry* e = archive_entry_new();
        archive_entry_set_pathname(e, ("data/blob" + std::to_string(i)).c_str());
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, static_cast<la_int64_t>(payload.size()));
        archive_write_header(l, e);
        archive_write_data(l, payload.data(), payload.size());
        archive_entry_free(e);
        archive_write_close(l);
        archive_write_free(l);
        diff_ids.push_back(sha256(layer));
        names.push_back(to_hex(diff_ids.back(), false) + "/layer.tar");
        e = archive_entry_new();
        archive_entry_set_pathname(e, names.back().c_str());
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, static_cast<la_int64_t>(layer.size()));
        archive_write_header(out, e);
        archive_write_data(out, layer.data(), layer.size());
        archive_entry_free(e);
    }
    std::string ids;
    std::string layers;
    for (std::size_t i = 0; i < diff_ids.size(); ++i) {
        ids += (i ? "," : "") + std::string{"\""} + digest_string(diff_ids[i]) + "\"";
        layers += (i ? "," : "") + std::string{"\""} + names[i] + "\"";
    }
    std::string config = R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[)" + ids + "]}}";
    auto cname = to_hex(sha256(as_view(config)), false) + ".json";
    std::string manifest = R"([{"Config":")" + cname + R"(","RepoTags":["bench:latest"],"Layers":[)" + layers + "]}]";
    for (auto [name, body] : {std::pair{cname, config}, std::pair{std::string{"manifest.json"}, manifest}}) {
        archive_entry* e = archive_entry_new();
        archive_entry_set_pathname(e, name.c_str());
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, static_cast<la_int64_t>(body.size()));
        archive_write_header(out, e);
        archive_write_data(out, body.data(), body.size());
        archive_entry_free(e);
    }
    archive_write_close(out);
    archive_write_free(out);
    return inspect_image(path).value();
}

// Plain TCP copy of a file over loopback; the receiver writes it to disk. Returns seconds.
double plain_copy(const fs::path& file, const fs::path& dest) {
    int ls = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(ls, 1);
    socklen_t len = sizeof a;
    ::getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len);
    auto start = Clock::now();
    std::thread receiver([&] {
        int s = ::accept(ls, nullptr, nullptr);
        int fd = ::open(dest.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        std::vector<char> buf(1 << 20);
        for (;;) {
            auto n = ::read(s, buf.data(), buf.size());
            if (n <= 0) break;
            if (::write(fd, buf.data(), static_cast<std::size_t>(n)) != n) break;
        }
        ::close(fd);
        ::close(s);
    });
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    std::vector<char> buf(1 << 20);
    for (;;) {
        auto n = ::read(fd, buf.data(), buf.size());
        if (n <= 0) break;
        for (ssize_t off = 0; off < n;) {
            auto w = ::write(s, buf.data() + off, static_cast<std::size_t>(n - off));
            if (w <= 0) break;
            off += w;
        }
    }
    ::close(fd);
    ::shutdown(s, SHUT_WR);
    receiver.join();
    ::close(s);
    ::close(ls);
    return seconds_since(start);
}

// Prepares a timed phase that will write about `bytes` to the disk under `dir`:
//  1. flushes dirty pages (syncfs), so the phase is not throttled by writeback of data an earlier
//     phase or step wrote;
//  2. writes `bytes` of scratch data to a file there and deletes it before it is flushed. On this
//     machine (a VM whose host takes back free guest memory: free page reporting) the first use
//     of a page the host took back costs about 1 s per GB of page cache, and whether a phase got
//     such pages or recently freed ones made the plain copy swing 4x between runs. After this
//     step every phase starts with the same supply of recently freed, host-backed pages, as on
//     a machine without this overcommit. The scratch file is never written back (deleted while
//     dirty), so it leaves no writeback behind.
void settle(const fs::path& dir, std::uint64_t bytes) {
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::syncfs(dfd);
        ::close(dfd);
    } else {
        ::sync();
    }
    auto scratch = dir / "settle.scratch";
    int fd = ::open(scratch.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return;
    static const std::vector<char> zeros(1 << 20, 0);
    for (std::uint64_t done = 0; done < bytes; done += zeros.size())
        if (::write(fd, zeros.data(), zeros.size()) <= 0) break;
    ::close(fd);
    ::unlink(scratch.c_str());
}

// The 1-minute load average: other work on the machine takes cores from both ends.
std::string load_average() {
    std::FILE* f = std::fopen("/proc/loadavg", "r");
    if (f == nullptr) return "?";
    char buf[64] = {};
    if (std::fgets(buf, sizeof buf, f) == nullptr) buf[0] = 0;
    std::fclose(f);
    std::string s = buf;
    return s.substr(0, s.find(' '));
}

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    auto n = v.size();
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Single-core speeds of the per-byte work a verified encrypted transfer adds, in bytes/s,
// measured in-process with OpenSSL EVP on a buffer too large for the caches (like the stream),
// in this thread's CPU time (so other work on the machine does not make them look slower).
struct CryptoSpeed {
    std::string cipher;
    double encrypt{0};
    double decrypt{0};
    double sha256{0};
};

// AEAD over `buf` in 16 KiB records, each with its own nonce and tag, as TLS 1.3 seals records.
// Encrypts in place (keeping the tags), then decrypts in place and checks every tag.
CryptoSpeed measure_crypto(const char* suite, std::size_t bytes) {
    CryptoSpeed out;
    const bool aes128 = std::string{suite}.find("AES_128") != std::string::npos;
    const EVP_CIPHER* cipher = aes128 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
    out.cipher = aes128 ? "AES-128-GCM" : "AES-256-GCM";
    constexpr std::size_t kRecord = 16384;
    Bytes buf(bytes);
    for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<std::uint8_t>(i * 131);
    std::vector<std::array<unsigned char, 16>> tags(bytes / kRecord + 1);
    unsigned char key[32];
    for (std::size_t i = 0; i < sizeof key; ++i) key[i] = static_cast<unsigned char>(i + 7);
    auto aead = [&](bool enc) {
        EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
        EVP_CipherInit_ex(ctx, cipher, nullptr, key, nullptr, enc ? 1 : 0);
        bool ok = true;
        const double t0 = thread_cpu_seconds();
        for (std::size_t off = 0, rec = 0; off < buf.size(); off += kRecord, ++rec) {
            unsigned char iv[12] = {};
            std::memcpy(iv + 4, &rec, sizeof rec);
            auto n = static_cast<int>(std::min(kRecord, buf.size() - off));
            int len = 0;
            EVP_CipherInit_ex(ctx, nullptr, nullptr, nullptr, iv, -1);
            EVP_CipherUpdate(ctx, buf.data() + off, &len, buf.data() + off, n);
            if (!enc) EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tags[rec].data());
            ok = EVP_CipherFinal_ex(ctx, buf.data() + off + len, &len) == 1 && ok;
            if (enc) EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tags[rec].data());
        }
        const double s = thread_cpu_seconds() - t0;
        EVP_CIPHER_CTX_free(ctx);
        if (!ok) std::fprintf(stderr, "transfer_bench: AEAD self-check failed\n");
        return static_cast<double>(buf.size()) / s;
    };
    auto hash = [&] {
        const double t0 = thread_cpu_seconds();
        Sha256 h;
        for (std::size_t off = 0; off < buf.size(); off += 1U << 20)
            h.update({buf.data() + off, std::min<std::size_t>(1U << 20, buf.size() - off)});
        (void)h.finish();
        return static_cast<double>(buf.size()) / (thread_cpu_seconds() - t0);
    };
    for (int pass = 0; pass < 3; ++pass) {  // best of three passes: the fastest is the machine's
        out.encrypt = std::max(out.encrypt, aead(true));
        out.decrypt = std::max(out.decrypt, aead(false));
        out.sha256 = std::max(out.sha256, hash());
    }
    return out;
}

struct Row {
    std::string figure, value, baseline, ratio;
};

std::string fmt(int decimals, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

}  // namespace

int main(int argc, char** argv) {
    std::uint64_t size = 1ULL << 30;
    int repeat = 3;
    fs::path base = fs::temp_directory_path();
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--size" && i + 1 < argc)
            size = parse_size(argv[++i]);
        else if (a == "--dir" && i + 1 < argc)
            base = argv[++i];
        else if (a == "--repeat" && i + 1 < argc)
            repeat = std::max(1, std::atoi(argv[++i]));
        else {
            std::fprintf(stderr, "usage: %s [--size 1G] [--dir /tmp] [--repeat 3]\n", argv[0]);
            return 2;
        }
    }
    auto dir = base / ("zeppelin-transfer-bench-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::vector<Row> rows;
    std::printf(
        "transfer_bench: %s per image, %u cores (load average %s), %d alternating runs of each, cipher %s, work dir "
        "%s\n",
        human_bytes(size).c_str(), std::thread::hardware_concurrency(), load_average().c_str(), repeat, cipher_suite(),
        dir.c_str());

    Endpoint ep{"127.0.0.1", 0};
    Secret secret;
    for (std::size_t i = 0; i < secret.size(); ++i) secret[i] = static_cast<std::uint8_t>(0xA5 ^ i);
    double random_plain_rate = 0;  // medians of the random image, for the ceiling
    double random_plain_cpu_gb = 0;
    double random_xfer_rate = 0;
    int agreement = 0;

    auto run = [&](const std::string& label, bool compressible, std::uint64_t seed) {
        auto path = dir / (label + ".tar");
        auto t0 = Clock::now();
        auto info = build_image(path, size, compressible, seed);
        double build_s = seconds_since(t0);
        t0 = Clock::now();
        (void)inspect_image(path).value();
        double inspect_s = seconds_since(t0);
        auto archive_bytes = fs::file_size(path);
        const double gb = static_cast<double>(info.total_bytes()) / 1e9;
        const double archive_gb = static_cast<double>(archive_bytes) / 1e9;
        std::vector<double> plain_rates, plain_cpus, xfer_rates, xfer_cpus;
        std::unique_ptr<Server> server;
        SendStats stats;
        std::printf("  %s:", label.c_str());
        for (int r = 0; r < repeat; ++r) {
            // plain copy (the archive is in the page cache: it was just written and read)
            settle(dir, archive_bytes + (64U << 20));
            double cpu0 = cpu_seconds();
            double plain_s = plain_copy(path, dir / "plain.out");
            plain_cpus.push_back((cpu_seconds() - cpu0) / archive_gb);
            plain_rates.push_back(mbps(archive_bytes, plain_s));
            fs::remove(dir / "plain.out");
            // encrypted transfer into a fresh, empty layer cache
            if (server) server->stop();
            server.reset();
            fs::remove_all(dir / "cache");
            ServerOptions so;
            so.cache_dir = dir / "cache";
            so.assemble_archive = false;
            server = Server::start(so).value();
            ep.port = server->port();
            auto id = label + "-" + std::to_string(++agreement);
            secret[0] = static_cast<std::uint8_t>(agreement);
            server->expect(id, secret, info.config_digest, size * 2).value();
            settle(dir, archive_bytes + (64U << 20));
            t0 = Clock::now();
            cpu0 = cpu_seconds();
            stats = send_image(ep, id, secret, path, info).value();
            double xfer_s = seconds_since(t0);
            (void)server->wait(id, std::chrono::seconds(10)).value();
            xfer_cpus.push_back((cpu_seconds() - cpu0) / gb);
            xfer_rates.push_back(mbps(info.total_bytes(), xfer_s));
            std::printf("  plain %.0f / encrypted %.0f MB/s", plain_rates.back(), xfer_rates.back());
            std::fflush(stdout);
        }
        std::printf("\n");
        // archive assembly for /images/load, from the last run's cache
        auto got = server->wait(label + "-" + std::to_string(agreement), std::chrono::seconds(1)).value();
        settle(dir, archive_bytes + (64U << 20));
        t0 = Clock::now();
        std::vector<fs::path> files;
        for (const auto& d : got.diff_ids) files.push_back(server->cache().path_of(d));
        write_docker_archive(dir / "assembled.tar", got.config, got.diff_ids, files).value();
        double assemble_s = seconds_since(t0);
        fs::remove(dir / "assembled.tar");
        const double plain_rate = median(plain_rates);
        const double xfer_rate = median(xfer_rates);
        const double plain_cpu = median(plain_cpus);
        const double xfer_cpu = median(xfer_cpus);
        if (!compressible) {
            random_plain_rate = plain_rate;
            random_plain_cpu_gb = plain_cpu;
            random_xfer_rate = xfer_rate;
        }
        const auto of = " (median of " + std::to_string(repeat) + ")";
        rows.push_back({label + ": encrypted transfer (MB/s)", fmt(0, xfer_rate), fmt(0, plain_rate) + " plain TCP",
                        fmt(2, xfer_rate / plain_rate) + of});
        rows.push_back({label + ": CPU seconds per GB, both ends", fmt(2, xfer_cpu), fmt(2, plain_cpu) + " plain TCP",
                        fmt(2, xfer_cpu / plain_cpu) + of});
        rows.push_back({label + ": bytes on the wire", human_bytes(stats.wire_bytes),
                        human_bytes(info.total_bytes()) + " image",
                        fmt(3, static_cast<double>(stats.wire_bytes) / static_cast<double>(info.total_bytes()))});
        std::printf(
            "  %s: built in %.1fs, client inspection (hash+scan) %.2fs = %.0f MB/s, %zu layers, %zu compressed, "
            "archive assembly for /images/load %.2fs\n",
            label.c_str(), build_s, inspect_s, mbps(info.total_bytes(), inspect_s), info.layers.size(),
            stats.layers_compressed, assemble_s);
        // repeated transfer of the same image to another agreement: the cache answers
        auto id2 = label + "-" + std::to_string(++agreement);
        secret[0] = static_cast<std::uint8_t>(agreement);
        server->expect(id2, secret, info.config_digest, size * 2).value();
        t0 = Clock::now();
        auto again = send_image(ep, id2, secret, path, info).value();
        double again_s = seconds_since(t0);
        rows.push_back({label + ": repeated transfer bytes",
                        human_bytes(again.wire_bytes) + " in " + fmt(3, again_s) + "s",
                        human_bytes(info.total_bytes()) + " image",
                        fmt(5, static_cast<double>(again.wire_bytes) / static_cast<double>(info.total_bytes()))});
        server->stop();
        server.reset();
        fs::remove_all(dir / "cache");
        fs::remove(path);
    };
    run("random", false, 1);
    run("text", true, 2);

    // The ceiling. Both ends share this machine's cores, so a transfer of B bytes needs at least
    //   B x (c_plain + 1/enc + 1/dec + 1/sha256)   CPU seconds,
    // where c_plain is the plain copy's measured CPU seconds per byte (read the file, move the
    // bytes through loopback TCP, write them to disk: work a user-space TLS transfer does too),
    // and enc/dec/sha256 are the single-core speeds measured here (the client seals, the worker
    // opens and hashes every layer). With P free cores and perfect overlap the best rate is
    //   P / (c_plain + 1/enc + 1/dec + 1/sha256),   and the plain copy's is P / c_plain,
    // so the best ratio is c_plain / (c_plain + 1/enc + 1/dec + 1/sha256). It holds whatever
    // else loads the machine as long as both copies are CPU-bound (a competing process takes
    // cores from both alike); it is an upper bound: TLS framing, memcpy into and out of OpenSSL's
    // buffers, the tar scan, thread hand-offs and idle cores are not counted.
    auto speed = measure_crypto(cipher_suite(), 256U << 20);
    const double cores = std::thread::hardware_concurrency();
    const double crypto_s_gb = 1e9 / speed.encrypt + 1e9 / speed.decrypt + 1e9 / speed.sha256;
    const double need_s_gb = random_plain_cpu_gb + crypto_s_gb;
    const double best_mbps = cores / need_s_gb * 1e3;
    const double plain_bound_mbps = cores / random_plain_cpu_gb * 1e3;
    const double best_ratio = random_plain_cpu_gb / need_s_gb;
    rows.push_back({"ceiling: best verified encrypted (MB/s)", fmt(0, best_mbps),
                    fmt(0, plain_bound_mbps) + " plain, CPU-bound",
                    fmt(2, best_ratio) + " (random: " + fmt(2, random_xfer_rate / random_plain_rate) + ")"});

    std::printf("\n%-40s %-22s %-26s %s\n", "figure", "value", "baseline (same run)", "ratio");
    for (const auto& r : rows)
        std::printf("%-40s %-22s %-26s %s\n", r.figure.c_str(), r.value.c_str(), r.baseline.c_str(), r.ratio.c_str());
    const double plain_cores = random_plain_rate / 1e3 * random_plain_cpu_gb;  // cores the plain copy kept busy
    std::printf(
        "\nceiling: per GB a verified encrypted transfer does the plain copy's work (%.2f CPU s: read the file,\n"
        "  loopback TCP, write to disk) plus %s encrypt %.2f s + decrypt %.2f s + SHA-256 %.2f s (single core\n"
        "  %.0f / %.0f / %.0f MB/s, OpenSSL EVP, 16 KiB records over %s) = %.2f CPU s/GB. Both ends share %.0f cores:\n"
        "  best rate %.0f / %.2f = %.0f MB/s; the plain copy, CPU-bound, %.0f / %.2f = %.0f MB/s.\n"
        "  Best ratio = %.2f / %.2f = %.2f (target 0.70) when both copies are CPU-bound (a quiet machine; other\n"
        "  load takes cores from both alike). This run's plain copy kept %.2f cores busy (%.0f MB/s): below %.0f,\n"
        "  other work or hand-off latency held it back, and against it the best rate is %.2f x.\n",
        random_plain_cpu_gb, speed.cipher.c_str(), 1e9 / speed.encrypt, 1e9 / speed.decrypt, 1e9 / speed.sha256,
        speed.encrypt / 1e6, speed.decrypt / 1e6, speed.sha256 / 1e6, human_bytes(256U << 20).c_str(), need_s_gb,
        cores, cores, need_s_gb, best_mbps, cores, random_plain_cpu_gb, plain_bound_mbps, random_plain_cpu_gb,
        need_s_gb, best_ratio, plain_cores, random_plain_rate, cores, best_mbps / random_plain_rate);
    std::printf("\ntarget: random encrypted transfer >= 0.70 x plain TCP; repeated transfer <= 0.01 x image\n");
    std::printf("load average at the end: %s (other work on the machine slows both ends)\n", load_average().c_str());
    std::error_code ec;
    fs::remove_all(dir, ec);
    return 0;
}
