// Image transfer benchmark. In one run it prints:
//   1. throughput of an encrypted transfer of N bytes of incompressible (random) layers, next to
//      a plain TCP copy of the same archive over the same loopback (sender reads the file, the
//      receiver writes it to disk, like `nc`), and their ratio (target >= 0.70);
//   2. throughput and wire size of a transfer of compressible (text) layers, same baseline;
//   3. bytes moved by a repeated transfer of the same image (layer cache), vs the image size.
// The transfer figures include everything the worker does before it would load the image:
// TLS 1.3 (AES-256-GCM), zstd decision/compression, sha256 of every layer, the layer tar scan,
// the cache write and commit. Archive assembly for /images/load is timed on its own.
// Usage: transfer_bench [--size 1G|256M|...] [--dir /tmp]
#include <archive.h>
#include <archive_entry.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

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

namespace fs = std::filesystem;
using namespace zeppelin;
using namespace zeppelin::transfer;
using Clock = std::chrono::steady_clock;

namespace {

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
    fs::path base = fs::temp_directory_path();
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--size" && i + 1 < argc)
            size = parse_size(argv[++i]);
        else if (a == "--dir" && i + 1 < argc)
            base = argv[++i];
        else {
            std::fprintf(stderr, "usage: %s [--size 1G] [--dir /tmp]\n", argv[0]);
            return 2;
        }
    }
    auto dir = base / ("zeppelin-transfer-bench-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::vector<Row> rows;
    std::printf("transfer_bench: %s per image, %u cores, work dir %s\n", human_bytes(size).c_str(),
                std::thread::hardware_concurrency(), dir.c_str());

    ServerOptions so;
    so.cache_dir = dir / "cache";
    so.assemble_archive = false;
    auto server = Server::start(so).value();
    Endpoint ep{"127.0.0.1", server->port()};
    Secret secret;
    for (std::size_t i = 0; i < secret.size(); ++i) secret[i] = static_cast<std::uint8_t>(0xA5 ^ i);

    auto run = [&](const std::string& label, bool compressible, std::uint64_t seed) {
        auto path = dir / (label + ".tar");
        auto t0 = Clock::now();
        auto info = build_image(path, size, compressible, seed);
        double build_s = seconds_since(t0);
        t0 = Clock::now();
        (void)inspect_image(path).value();
        double inspect_s = seconds_since(t0);
        auto archive_bytes = fs::file_size(path);
        // warm both paths once on a throwaway copy is unnecessary: the file is in the page cache
        double cpu0 = cpu_seconds();
        double plain_s = plain_copy(path, dir / "plain.out");
        double plain_cpu = cpu_seconds() - cpu0;
        fs::remove(dir / "plain.out");
        auto id = label + "-1";
        secret[0] = static_cast<std::uint8_t>(seed);
        server->expect(id, secret, info.config_digest, size * 2).value();
        t0 = Clock::now();
        cpu0 = cpu_seconds();
        auto stats = send_image(ep, id, secret, path, info).value();
        double xfer_s = seconds_since(t0);
        auto got = server->wait(id, std::chrono::seconds(10)).value();
        double xfer_cpu = cpu_seconds() - cpu0;
        t0 = Clock::now();
        std::vector<fs::path> files;
        for (const auto& d : got.diff_ids) files.push_back(server->cache().path_of(d));
        write_docker_archive(dir / "assembled.tar", got.config, got.diff_ids, files).value();
        double assemble_s = seconds_since(t0);
        fs::remove(dir / "assembled.tar");
        double plain_rate = mbps(archive_bytes, plain_s);
        double xfer_rate = mbps(info.total_bytes(), xfer_s);
        rows.push_back({label + ": encrypted transfer (MB/s)", fmt(0, xfer_rate), fmt(0, plain_rate) + " plain TCP",
                        fmt(2, xfer_rate / plain_rate)});
        const double gb = static_cast<double>(info.total_bytes()) / 1e9;
        rows.push_back({label + ": CPU seconds per GB, both ends", fmt(2, xfer_cpu / gb),
                        fmt(2, plain_cpu / gb) + " plain TCP", fmt(2, xfer_cpu / plain_cpu)});
        rows.push_back({label + ": bytes on the wire", human_bytes(stats.wire_bytes),
                        human_bytes(info.total_bytes()) + " image",
                        fmt(3, static_cast<double>(stats.wire_bytes) / static_cast<double>(info.total_bytes()))});
        std::printf(
            "  %s: built in %.1fs, client inspection (hash+scan) %.2fs = %.0f MB/s, %zu layers, %zu compressed, "
            "archive assembly for /images/load %.2fs\n",
            label.c_str(), build_s, inspect_s, mbps(info.total_bytes(), inspect_s), info.layers.size(),
            stats.layers_compressed, assemble_s);
        // repeated transfer of the same image to another agreement: the cache answers
        auto id2 = label + "-2";
        secret[1] = 0x42;
        server->expect(id2, secret, info.config_digest, size * 2).value();
        t0 = Clock::now();
        auto again = send_image(ep, id2, secret, path, info).value();
        double again_s = seconds_since(t0);
        rows.push_back({label + ": repeated transfer bytes",
                        human_bytes(again.wire_bytes) + " in " + fmt(3, again_s) + "s",
                        human_bytes(info.total_bytes()) + " image",
                        fmt(5, static_cast<double>(again.wire_bytes) / static_cast<double>(info.total_bytes()))});
        fs::remove(path);
        secret[1] = 0;
    };
    run("random", false, 1);
    run("text", true, 2);

    std::printf("\n%-38s %-22s %-26s %s\n", "figure", "value", "baseline (same run)", "ratio");
    for (const auto& r : rows)
        std::printf("%-38s %-22s %-26s %s\n", r.figure.c_str(), r.value.c_str(), r.baseline.c_str(), r.ratio.c_str());
    std::printf("\ntarget: random encrypted transfer >= 0.70 x plain TCP; repeated transfer <= 0.01 x image\n");
    server->stop();
    std::error_code ec;
    fs::remove_all(dir, ec);
    return 0;
}
