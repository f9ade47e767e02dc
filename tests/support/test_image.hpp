// Builds a small, runnable docker-archive image (the `docker save` format) for tests, without an
// engine and without network: one layer holding the host's static busybox (/bin/busybox from the
// busybox-static package) plus a test page in /www, served by default with
// `busybox httpd -f -p 8080 -h /www`. Optional extra files and extra layers make bigger or
// multi-layer images (transfer / de-duplication tests).
//
// The archive is reproducible: fixed mtimes, uid/gid 0, fixed entry order and a config without
// changing timestamps, so the same options give the same config digest (the image id) every time.
//
// Header-only; link the test with OpenSSL::Crypto (SHA-256). Throws std::runtime_error on failure
// (test helper).
//
//   zeppelin::test::TempDir dir;
//   auto image = zeppelin::test::build_test_image(dir.path() / "busybox.tar", {.tag = "localhost/t:1"});
//   engine.load_image(image.archive);   // image.config_digest == the engine's image id
#pragma once

#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace zeppelin::test {

/// A temporary directory removed (recursively) on destruction.
class TempDir final {
  public:
    explicit TempDir(std::string_view prefix = "zeppelin-test") {
        std::string templ = (std::filesystem::temp_directory_path() / (std::string{prefix} + "-XXXXXX")).string();
        if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error{"mkdtemp failed for " + templ};
        path_ = templ;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

  private:
    std::filesystem::path path_;
};

struct ImageFile {
    std::string path;     // relative, e.g. "www/data.bin"
    std::string content;  // bytes
    std::uint32_t mode{0644};
};

struct TestImageOptions {
    std::string tag{"localhost/zeppelin-test/busybox:latest"};
    std::string page{"<html><body><h1>zeppelin test page</h1></body></html>\n"};  // /www/index.html
    std::vector<ImageFile> extra_files;                                           // added to the (single) busybox layer
    std::vector<std::vector<ImageFile>> extra_layers;                             // each becomes one more layer on top
    std::vector<std::string> cmd{"/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"};
    std::uint16_t port{8080};  // ExposedPorts
    std::string busybox{"/bin/busybox"};
};

struct TestImage {
    std::filesystem::path archive;
    std::string config_digest;          // "sha256:<hex>" = the image id the engine will report
    std::vector<std::string> diff_ids;  // "sha256:<hex>", bottom layer first
    std::string tag;
    std::uint64_t bytes{0};  // archive size
};

/// True when the host has a static busybox to put in the image.
inline bool busybox_available(const std::string& path = "/bin/busybox") {
    std::error_code ec;
    return std::filesystem::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

/// `n` pseudo-random (incompressible) bytes, reproducible from `seed`.
inline std::string random_bytes(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng{seed};
    std::string out(n, '\0');
    for (std::size_t i = 0; i < n; i += 8) {
        const std::uint64_t v = rng();
        std::memcpy(out.data() + i, &v, std::min<std::size_t>(8, n - i));
    }
    return out;
}

namespace detail {

inline std::string sha256_hex(std::string_view data) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(), nullptr) != 1)
        throw std::runtime_error{"SHA-256 failed"};
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
        out += hex[md[i] >> 4];
        out += hex[md[i] & 15];
    }
    return out;
}

/// A minimal reproducible ustar writer (POSIX.1-1988 header, names < 100 bytes).
class TarWriter final {
  public:
    void dir(const std::string& name, std::uint32_t mode = 0755) { entry(name + "/", '5', {}, {}, mode); }
    void file(const std::string& name, std::string_view data, std::uint32_t mode = 0644) {
        entry(name, '0', data, {}, mode);
    }
    void symlink(const std::string& name, const std::string& target) { entry(name, '2', {}, target, 0777); }
    std::string finish() {
        out_.append(1024, '\0');  // two zero blocks end the archive
        return std::move(out_);
    }

  private:
    static void octal(char* field, std::size_t width, std::uint64_t value) {
        // width-1 octal digits, then NUL.
        std::string digits(width - 1, '0');
        for (std::size_t i = width - 1; i-- > 0 && value != 0; value >>= 3)
            digits[i] = static_cast<char>('0' + (value & 7));
        if (value != 0) throw std::runtime_error{"tar field overflow"};
        std::memcpy(field, digits.data(), width - 1);
        field[width - 1] = '\0';
    }
    void entry(const std::string& name, char type, std::string_view data, const std::string& link, std::uint32_t mode) {
        if (name.size() >= 100 || link.size() >= 100) throw std::runtime_error{"tar name too long: " + name};
        std::array<char, 512> h{};
        std::memcpy(h.data(), name.data(), name.size());
        octal(h.data() + 100, 8, mode);
        octal(h.data() + 108, 8, 0);  // uid
        octal(h.data() + 116, 8, 0);  // gid
        octal(h.data() + 124, 12, data.size());
        octal(h.data() + 136, 12, 0);  // mtime
        std::memset(h.data() + 148, ' ', 8);
        h[156] = type;
        std::memcpy(h.data() + 157, link.data(), link.size());
        std::memcpy(h.data() + 257, "ustar", 6);  // magic "ustar\0"
        std::memcpy(h.data() + 263, "00", 2);     // version
        std::memcpy(h.data() + 265, "root", 4);
        std::memcpy(h.data() + 297, "root", 4);
        unsigned sum = 0;
        for (const char c : h) sum += static_cast<unsigned char>(c);
        octal(h.data() + 148, 7, sum);  // 6 digits + NUL, then the space already there
        out_.append(h.data(), h.size());
        out_.append(data);
        out_.append((512 - data.size() % 512) % 512, '\0');
    }
    std::string out_;
};

inline std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20) {
            std::array<char, 8> buf{};
            std::snprintf(buf.data(), buf.size(), "\\u%04x", u);
            out += buf.data();
        } else {
            out += c;
        }
    }
    return out + "\"";
}

inline void add_files(TarWriter& tar, std::vector<ImageFile> files, std::vector<std::string> dirs_done = {}) {
    std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
    for (const auto& f : files) {
        // Parent directories first, once each.
        for (std::size_t slash = f.path.find('/'); slash != std::string::npos; slash = f.path.find('/', slash + 1)) {
            const std::string d = f.path.substr(0, slash);
            if (std::find(dirs_done.begin(), dirs_done.end(), d) == dirs_done.end()) {
                tar.dir(d);
                dirs_done.push_back(d);
            }
        }
        tar.file(f.path, f.content, f.mode);
    }
}

}  // namespace detail

/// Writes the image to `out_tar` and returns its identity.
inline TestImage build_test_image(const std::filesystem::path& out_tar, const TestImageOptions& options = {}) {
    std::ifstream in{options.busybox, std::ios::binary};
    if (!in) throw std::runtime_error{options.busybox + " not found: apt-get install busybox-static"};
    const std::string busybox{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};

    std::vector<std::string> layers;
    {
        detail::TarWriter tar;
        tar.dir("bin");
        for (const char* applet : {"cat", "dd", "echo", "httpd", "sh", "sleep", "tail"})
            tar.symlink(std::string{"bin/"} + applet, "busybox");
        tar.file("bin/busybox", busybox, 0755);
        tar.dir("etc");
        tar.file("etc/group", "root:x:0:\nnobody:x:65534:\n");
        tar.file("etc/passwd", "root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n");
        tar.dir("tmp", 01777);
        tar.dir("www");
        tar.file("www/index.html", options.page);
        detail::add_files(tar, options.extra_files, {"bin", "etc", "tmp", "www"});
        layers.push_back(tar.finish());
    }
    for (const auto& files : options.extra_layers) {
        detail::TarWriter tar;
        detail::add_files(tar, files);
        layers.push_back(tar.finish());
    }

    TestImage image;
    image.tag = options.tag;
    for (const auto& l : layers) image.diff_ids.push_back("sha256:" + detail::sha256_hex(l));

    std::string cmd = "[";
    for (std::size_t i = 0; i < options.cmd.size(); ++i) cmd += (i ? "," : "") + detail::json_string(options.cmd[i]);
    cmd += "]";
    std::string diff_ids = "[";
    for (std::size_t i = 0; i < image.diff_ids.size(); ++i) diff_ids += (i ? ",\"" : "\"") + image.diff_ids[i] + "\"";
    diff_ids += "]";
    std::string history = "[";
    for (std::size_t i = 0; i < layers.size(); ++i)
        history += std::string{i ? "," : ""} +
                   R"({"created":"1970-01-01T00:00:00Z","created_by":"zeppelin test image layer )" + std::to_string(i) +
                   "\"}";
    history += "]";
    const std::string config = R"({"architecture":"amd64","config":{"Cmd":)" + cmd +
                               R"(,"Env":["PATH=/bin"],"ExposedPorts":{")" + std::to_string(options.port) +
                               R"(/tcp":{}},"WorkingDir":"/"},"created":"1970-01-01T00:00:00Z","history":)" + history +
                               R"(,"os":"linux","rootfs":{"type":"layers","diff_ids":)" + diff_ids + "}}";
    const std::string config_hex = detail::sha256_hex(config);
    image.config_digest = "sha256:" + config_hex;

    std::string manifest_layers = "[";
    for (std::size_t i = 0; i < layers.size(); ++i)
        manifest_layers += (i ? ",\"" : "\"") + image.diff_ids[i].substr(7) + "/layer.tar\"";
    manifest_layers += "]";
    const std::string manifest = R"([{"Config":")" + config_hex + R"(.json","RepoTags":[)" +
                                 detail::json_string(options.tag) + R"(],"Layers":)" + manifest_layers + "}]";

    detail::TarWriter archive;
    archive.file("manifest.json", manifest);
    archive.file(config_hex + ".json", config);
    for (std::size_t i = 0; i < layers.size(); ++i) {
        const std::string dir = image.diff_ids[i].substr(7);
        archive.dir(dir);
        archive.file(dir + "/layer.tar", layers[i]);
    }
    const std::string bytes = archive.finish();
    std::ofstream out{out_tar, std::ios::binary | std::ios::trunc};
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) throw std::runtime_error{"cannot write " + out_tar.string()};
    image.archive = out_tar;
    image.bytes = bytes.size();
    return image;
}

}  // namespace zeppelin::test
