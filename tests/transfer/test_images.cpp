#include "test_images.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>

#include "zeppelin/core/hex.hpp"

namespace zeppelin::transfer::test {

namespace {
la_ssize_t collect(archive*, void* user, const void* buf, std::size_t n) {
    auto* out = static_cast<Bytes*>(user);
    const auto* p = static_cast<const std::uint8_t*>(buf);
    out->insert(out->end(), p, p + n);
    return static_cast<la_ssize_t>(n);
}
}  // namespace

Bytes make_tar(const std::vector<TarEntry>& entries, Compression c) {
    Bytes out;
    archive* a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    if (c == Compression::gzip) archive_write_add_filter_gzip(a);
    archive_write_set_bytes_in_last_block(a, 1);
    archive_write_open(a, &out, nullptr, collect, nullptr);
    for (const auto& e : entries) {
        archive_entry* en = archive_entry_new();
        archive_entry_set_pathname(en, e.name.c_str());
        archive_entry_set_perm(en, 0644);
        switch (e.type) {
            case '1':
                archive_entry_set_filetype(en, AE_IFREG);
                archive_entry_set_hardlink(en, e.link.c_str());
                break;
            case '2':
                archive_entry_set_filetype(en, AE_IFLNK);
                archive_entry_set_symlink(en, e.link.c_str());
                break;
            case '3':
                archive_entry_set_filetype(en, AE_IFCHR);
                archive_entry_set_rdev(en, 0x0103);
                break;
            case '5':
                archive_entry_set_filetype(en, AE_IFDIR);
                break;
            case '6':
                archive_entry_set_filetype(en, AE_IFIFO);
                break;
            default:
                archive_entry_set_filetype(en, AE_IFREG);
                archive_entry_set_size(en, static_cast<la_int64_t>(e.data.size()));
        }
        if (archive_write_header(a, en) != ARCHIVE_OK) throw std::runtime_error{archive_error_string(a)};
        if (e.type == '0' && !e.data.empty()) archive_write_data(a, e.data.data(), e.data.size());
        archive_entry_free(en);
    }
    archive_write_close(a);
    archive_write_free(a);
    return out;
}

void write_file(const std::filesystem::path& p, ByteView data) {
    std::ofstream f{p, std::ios::binary};
    f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

Bytes read_file(const std::filesystem::path& p) {
    std::ifstream f{p, std::ios::binary};
    return Bytes{std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

Bytes make_layer(std::uint64_t seed, std::size_t files, std::size_t bytes_each, bool compressible) {
    std::mt19937_64 rng{seed};
    std::vector<TarEntry> entries;
    entries.push_back({"data", {}, '5', ""});
    for (std::size_t i = 0; i < files; ++i) {
        Bytes d(bytes_each);
        if (compressible) {
            std::string text;
            while (text.size() < d.size())
                text += "line " + std::to_string(rng() % 1000) + " zeppelin worker verifier agreement escrow\n";
            std::memcpy(d.data(), text.data(), d.size());
        } else {
            for (std::size_t k = 0; k + 8 <= d.size(); k += 8) {
                auto v = rng();
                std::memcpy(d.data() + k, &v, 8);
            }
        }
        entries.push_back({"data/file" + std::to_string(seed) + "_" + std::to_string(i), std::move(d), '0', ""});
    }
    entries.push_back({"data/link", {}, '2', "/bin/busybox"});  // absolute symlink targets are fine
    return make_tar(entries);
}

std::string make_config(const std::vector<Digest>& diff_ids) {
    nlohmann::json ids = nlohmann::json::array();
    for (const auto& d : diff_ids) ids.push_back(digest_string(d));
    nlohmann::json cfg = {{"architecture", "amd64"},
                          {"os", "linux"},
                          {"config", {{"Cmd", {"/bin/sh"}}}},
                          {"rootfs", {{"type", "layers"}, {"diff_ids", ids}}}};
    return cfg.dump();
}

BuiltImage make_docker_archive(const std::filesystem::path& path, const std::vector<Bytes>& layers, Compression lc,
                               const std::vector<TarEntry>& extra) {
    BuiltImage img;
    img.path = path;
    std::vector<TarEntry> entries;
    nlohmann::json layer_names = nlohmann::json::array();
    for (std::size_t i = 0; i < layers.size(); ++i) {
        img.diff_ids.push_back(sha256(layers[i]));
        img.bytes += layers[i].size();
        auto name = to_hex(img.diff_ids.back(), false).substr(0, 16) + std::to_string(i) + "/layer.tar";
        Bytes stored = lc == Compression::gzip ? make_tar({}, Compression::none) : layers[i];
        if (lc == Compression::gzip) {
            // gzip the layer tar itself (not a tar of it): use libarchive's raw writer
            stored.clear();
            archive* a = archive_write_new();
            archive_write_set_format_raw(a);
            archive_write_add_filter_gzip(a);
            archive_write_open(a, &stored, nullptr, collect, nullptr);
            archive_entry* en = archive_entry_new();
            archive_entry_set_filetype(en, AE_IFREG);
            archive_entry_set_pathname(en, "layer");
            archive_write_header(a, en);
            archive_write_data(a, layers[i].data(), layers[i].size());
            archive_entry_free(en);
            archive_write_close(a);
            archive_write_free(a);
        }
        entries.push_back({name, std::move(stored), '0', ""});
        layer_names.push_back(name);
    }
    auto config = make_config(img.diff_ids);
    img.config_digest = sha256(as_view(config));
    auto config_name = to_hex(img.config_digest, false) + ".json";
    entries.push_back({config_name, to_bytes(config), '0', ""});
    nlohmann::json manifest = nlohmann::json::array(
        {{{"Config", config_name}, {"RepoTags", {"zeppelin/test:latest"}}, {"Layers", layer_names}}});
    entries.push_back({"manifest.json", to_bytes(manifest.dump()), '0', ""});
    for (const auto& e : extra) entries.push_back(e);
    write_file(path, make_tar(entries));
    return img;
}

BuiltImage make_oci_archive(const std::filesystem::path& path, const std::vector<Bytes>& layers, Compression lc) {
    BuiltImage img;
    img.path = path;
    std::vector<TarEntry> entries;
    entries.push_back({"oci-layout", to_bytes(std::string{R"({"imageLayoutVersion":"1.0.0"})"}), '0', ""});
    nlohmann::json descs = nlohmann::json::array();
    for (const auto& l : layers) {
        img.diff_ids.push_back(sha256(l));
        img.bytes += l.size();
        Bytes stored = l;
        if (lc == Compression::gzip) {
            stored.clear();
            archive* a = archive_write_new();
            archive_write_set_format_raw(a);
            archive_write_add_filter_gzip(a);
            archive_write_open(a, &stored, nullptr, collect, nullptr);
            archive_entry* en = archive_entry_new();
            archive_entry_set_filetype(en, AE_IFREG);
            archive_entry_set_pathname(en, "layer");
            archive_write_header(a, en);
            archive_write_data(a, l.data(), l.size());
            archive_entry_free(en);
            archive_write_close(a);
            archive_write_free(a);
        }
        auto d = sha256(stored);
        descs.push_back({{"mediaType", lc == Compression::gzip ? "application/vnd.oci.image.layer.v1.tar+gzip"
                                                               : "application/vnd.oci.image.layer.v1.tar"},
                         {"digest", digest_string(d)},
                         {"size", stored.size()}});
        auto blob = "blobs/sha256/" + to_hex(d, false);
        bool seen = false;
        for (const auto& e : entries) seen = seen || e.name == blob;
        if (!seen) entries.push_back({blob, std::move(stored), '0', ""});
    }
    auto config = make_config(img.diff_ids);
    img.config_digest = sha256(as_view(config));
    entries.push_back({"blobs/sha256/" + to_hex(img.config_digest, false), to_bytes(config), '0', ""});
    nlohmann::json manifest = {{"schemaVersion", 2},
                               {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                               {"config",
                                {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                                 {"digest", digest_string(img.config_digest)},
                                 {"size", config.size()}}},
                               {"layers", descs}};
    auto mbytes = manifest.dump();
    auto md = sha256(as_view(mbytes));
    entries.push_back({"blobs/sha256/" + to_hex(md, false), to_bytes(mbytes), '0', ""});
    nlohmann::json index = {{"schemaVersion", 2},
                            {"manifests",
                             {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                               {"digest", digest_string(md)},
                               {"size", mbytes.size()}}}}};
    entries.push_back({"index.json", to_bytes(index.dump()), '0', ""});
    write_file(path, make_tar(entries));
    return img;
}

}  // namespace zeppelin::transfer::test
