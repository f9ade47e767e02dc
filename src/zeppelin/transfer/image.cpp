#include "zeppelin/transfer/image.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/transfer/archive_handle.hpp"
#include "zeppelin/transfer/tar_scan.hpp"

namespace zeppelin::transfer {

using json = nlohmann::json;
using detail::ArchiveReader;
using detail::ArchiveWriter;

namespace {

constexpr std::size_t kBlock = 1 << 20;

Error hostile(std::string msg) {
    return Error{Errc::hostile_archive, std::move(msg)};
}

Result<json> parse_json(ByteView in, const ImageLimits& limits, const char* what) {
    if (in.size() > limits.max_json_bytes)
        return Error{Errc::limit_exceeded, std::string{what} + " is " + std::to_string(in.size()) +
                                               " bytes, more than the limit of " +
                                               std::to_string(limits.max_json_bytes)};
    auto j = json::parse(in.begin(), in.end(), nullptr, false);
    if (j.is_discarded()) return hostile(std::string{what} + " is not valid JSON");
    return j;
}

const json* member(const json& obj, const char* key) {
    if (!obj.is_object()) return nullptr;
    auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
}

Result<std::string> string_member(const json& obj, const char* key, const char* what) {
    const auto* v = member(obj, key);
    if (v == nullptr || !v->is_string()) return hostile(std::string{what} + " has no string field \"" + key + "\"");
    return v->get<std::string>();
}

Result<OciDescriptor> parse_descriptor(const json& j, const char* what) {
    OciDescriptor d;
    d.media_type = ZP_TRY(string_member(j, "mediaType", what));
    auto digest = ZP_TRY(string_member(j, "digest", what));
    auto parsed = parse_digest(digest);
    if (!parsed) return hostile(std::string{what} + ": " + parsed.error().message());
    d.digest = *parsed;
    const auto* size = member(j, "size");
    if (size == nullptr || !size->is_number_unsigned()) return hostile(std::string{what} + " has no unsigned \"size\"");
    d.size = size->get<std::uint64_t>();
    return d;
}

// "a/./b/../c" relative to the archive root; nullopt if it climbs out of the tree.
std::optional<std::string> normalize(std::string_view path) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    while (start <= path.size()) {
        auto end = path.find('/', start);
        if (end == std::string_view::npos) end = path.size();
        auto part = path.substr(start, end - start);
        if (part == "..") {
            if (parts.empty()) return std::nullopt;
            parts.pop_back();
        } else if (!part.empty() && part != ".") {
            parts.push_back(part);
        }
        start = end + 1;
    }
    std::string out;
    for (auto p : parts) {
        if (!out.empty()) out += '/';
        out += p;
    }
    return out;
}

bool is_compressed_magic(const std::uint8_t* p, std::size_t n) {
    auto starts = [&](std::initializer_list<std::uint8_t> m) {
        return n >= m.size() && std::equal(m.begin(), m.end(), p);
    };
    return starts({0x1f, 0x8b}) || starts({0x28, 0xb5, 0x2f, 0xfd}) || starts({0xfd, '7', 'z', 'X', 'Z', 0x00}) ||
           starts({'B', 'Z', 'h'});
}

struct Member {
    std::uint64_t size{0};
    std::optional<Bytes> content;  // buffered when it looks like JSON
};

struct Listing {
    std::map<std::string, Member> files;
    std::map<std::string, std::string> links;  // name -> normalized target
    std::set<std::string> dirs;

    Result<std::string> resolve(const std::string& name, const std::string& what) const {
        std::string cur = name;
        for (int hop = 0; hop < 16; ++hop) {
            if (files.count(cur) != 0) return cur;
            auto it = links.find(cur);
            if (it == links.end()) break;
            cur = it->second;
        }
        return hostile("the manifest references " + what + " '" + name + "', which is missing from the archive");
    }
    Result<ByteView> json_of(const std::string& name, const std::string& what) const {
        auto resolved = ZP_TRY(resolve(name, what));
        const auto& m = files.at(resolved);
        if (!m.content) return hostile(what + " '" + name + "' is not a JSON document");
        return ByteView{*m.content};
    }
};

Result<void> open_outer(ArchiveReader& r, const std::filesystem::path& path) {
    archive_read_support_filter_all(r.get());
    archive_read_support_format_tar(r.get());
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
        return Error{Errc::not_found, "image archive '" + path.string() + "' does not exist or is not a file"};
    if (archive_read_open_filename(r.get(), path.c_str(), kBlock) != ARCHIVE_OK)
        return hostile("'" + path.string() + "' is not a tar archive: " + r.error());
    return {};
}

Result<void> check_outer_ratio(archive* a, const ImageLimits& limits) {
    if (archive_filter_count(a) <= 1) return {};
    auto raw = static_cast<std::uint64_t>(std::max<la_int64_t>(archive_filter_bytes(a, -1), 1));
    auto out = static_cast<std::uint64_t>(std::max<la_int64_t>(archive_filter_bytes(a, 0), 0));
    if (out > limits.ratio_floor && out / raw > limits.max_ratio)
        return Error{Errc::limit_exceeded, "decompression bomb: the archive expands more than " +
                                               std::to_string(limits.max_ratio) + " times"};
    if (out > limits.max_image_bytes + 64 * limits.max_json_bytes)
        return Error{Errc::limit_exceeded, "the archive expands beyond the image size limit"};
    return {};
}

Error read_error(const ArchiveReader& r, const std::string& context) {
    return hostile("archive is truncated or corrupt (" + context + "): " + r.error());
}

Result<Listing> list_archive(const std::filesystem::path& path, const ImageLimits& limits) {
    ArchiveReader r;
    ZP_CHECK(open_outer(r, path));
    Listing out;
    std::uint64_t buffered = 0;
    std::uint64_t count = 0;
    archive_entry* e = nullptr;
    for (;;) {
        int rc = archive_read_next_header(r.get(), &e);
        if (rc == ARCHIVE_EOF) break;
        if (rc < ARCHIVE_WARN) {
            if (count == 0) return hostile("'" + path.string() + "' is not a tar archive: " + r.error());
            return read_error(r, "reading a header");
        }
        ZP_CHECK(check_outer_ratio(r.get(), limits));
        if (++count > limits.max_entries)
            return Error{Errc::limit_exceeded,
                         "archive has more than " + std::to_string(limits.max_entries) + " members"};
        const char* raw_name = archive_entry_pathname(e);
        if (raw_name == nullptr) return hostile("archive member without a name");
        std::string raw{raw_name};
        if (auto p = path_problem(raw); !p.empty()) return hostile("archive member '" + raw + "' " + p);
        auto name = normalize(raw);
        if (!name) return hostile("archive member '" + raw + "' leaves the archive tree");
        if (name->empty()) continue;  // "./"
        if (out.files.count(*name) + out.links.count(*name) != 0)
            return hostile("archive member '" + *name + "' appears twice");
        if (const char* hl = archive_entry_hardlink(e); hl != nullptr) {
            std::string target{hl};
            auto norm = normalize(target);
            if (!path_problem(target).empty() || !norm)
                return hostile("hard link '" + *name + "' points out of the archive tree ('" + target + "')");
            out.links[*name] = *norm;
            continue;
        }
        auto type = archive_entry_filetype(e);
        if (type == AE_IFDIR) {
            out.dirs.insert(*name);
            continue;
        }
        if (type == AE_IFLNK) {
            const char* t = archive_entry_symlink(e);
            std::string target = t != nullptr ? t : "";
            if (target.empty() || target.front() == '/')
                return hostile("symlink '" + *name + "' points out of the archive tree ('" + target + "')");
            auto slash = name->rfind('/');
            std::string base = slash == std::string::npos ? "" : name->substr(0, slash + 1);
            auto norm = normalize(base + target);
            if (!norm) return hostile("symlink '" + *name + "' points out of the archive tree ('" + target + "')");
            out.links[*name] = *norm;
            continue;
        }
        if (type == AE_IFCHR || type == AE_IFBLK) return hostile("archive member '" + *name + "' is a device node");
        if (type == AE_IFIFO) return hostile("archive member '" + *name + "' is a fifo");
        if (type != AE_IFREG) return hostile("archive member '" + *name + "' is not a regular file");
        auto size = static_cast<std::uint64_t>(std::max<la_int64_t>(archive_entry_size(e), 0));
        if (size > limits.max_image_bytes)
            return Error{Errc::limit_exceeded, "archive member '" + *name + "' is " + std::to_string(size) +
                                                   " bytes, more than the image size limit"};
        Member m{size, std::nullopt};
        if (size > 0 && size <= limits.max_json_bytes) {
            const void* buf = nullptr;
            std::size_t n = 0;
            la_int64_t off = 0;
            rc = archive_read_data_block(r.get(), &buf, &n, &off);
            if (rc < ARCHIVE_WARN) return read_error(r, "reading '" + *name + "'");
            const auto* p = static_cast<const std::uint8_t*>(buf);
            std::size_t k = 0;
            while (k < n && (p[k] == ' ' || p[k] == '\n' || p[k] == '\r' || p[k] == '\t')) ++k;
            if (rc == ARCHIVE_OK && k < n && (p[k] == '{' || p[k] == '[')) {
                buffered += size;
                if (buffered > 16 * limits.max_json_bytes)
                    return Error{Errc::limit_exceeded, "archive holds too many JSON documents"};
                Bytes content(p, p + n);
                for (;;) {
                    rc = archive_read_data_block(r.get(), &buf, &n, &off);
                    if (rc == ARCHIVE_EOF) break;
                    if (rc < ARCHIVE_WARN) return read_error(r, "reading '" + *name + "'");
                    if (static_cast<std::uint64_t>(off) != content.size() || content.size() + n > size)
                        return hostile("archive member '" + *name + "' is sparse or longer than declared");
                    const auto* q = static_cast<const std::uint8_t*>(buf);
                    content.insert(content.end(), q, q + n);
                }
                if (content.size() != size) return hostile("archive member '" + *name + "' is truncated");
                m.content = std::move(content);
            }
        }
        out.files.emplace(*name, std::move(m));
    }
    ZP_CHECK(check_outer_ratio(r.get(), limits));
    return out;
}

// Config name in a docker-archive is "<hex>.json" or "blobs/sha256/<hex>": if it embeds a
// digest, it must be the real one.
std::optional<std::string> digest_in_name(const std::string& name) {
    auto base = name.substr(name.rfind('/') == std::string::npos ? 0 : name.rfind('/') + 1);
    if (base.size() > 5 && base.substr(base.size() - 5) == ".json") base.resize(base.size() - 5);
    if (base.size() == 64 && is_hex(base) && base.find('x') == std::string::npos) return base;
    return std::nullopt;
}

std::string blob_path(const Digest& d) {
    return "blobs/sha256/" + to_hex(d, false);
}

// ---- pass 2: layer streaming ----

struct PullContext {
    archive* outer{nullptr};
    const void* first{nullptr};
    std::size_t first_size{0};
    std::uint64_t compressed{0};
    std::uint64_t expect_offset{0};
    Sha256* blob_hash{nullptr};
    std::string error;
};

la_ssize_t pull_read(archive*, void* user, const void** buf) {
    auto* ctx = static_cast<PullContext*>(user);
    if (ctx->first != nullptr) {
        *buf = ctx->first;
        ctx->first = nullptr;
        ctx->compressed += ctx->first_size;
        if (ctx->blob_hash != nullptr)
            ctx->blob_hash->update({static_cast<const std::uint8_t*>(*buf), ctx->first_size});
        return static_cast<la_ssize_t>(ctx->first_size);
    }
    std::size_t n = 0;
    la_int64_t off = 0;
    int rc = archive_read_data_block(ctx->outer, buf, &n, &off);
    if (rc == ARCHIVE_EOF) return 0;
    if (rc < ARCHIVE_WARN) {
        const char* e = archive_error_string(ctx->outer);
        ctx->error = e != nullptr ? e : "read error";
        return -1;
    }
    if (static_cast<std::uint64_t>(off) != ctx->expect_offset) {
        ctx->error = "sparse archive member";
        return -1;
    }
    ctx->expect_offset += n;
    ctx->compressed += n;
    if (ctx->blob_hash != nullptr) ctx->blob_hash->update({static_cast<const std::uint8_t*>(*buf), n});
    return static_cast<la_ssize_t>(n);
}

Result<void> stream_blob(const ArchiveReader& outer, const LayerInfo& layer, std::size_t index, LayerSink& sink,
                         const ImageLimits& limits, std::uint64_t& image_total, bool verify_blob) {
    const auto where = "layer " + std::to_string(index) + " ('" + layer.blob + "')";
    auto limit_error = [&] {
        return Error{Errc::limit_exceeded, where + ": the image grows beyond the limit of " +
                                               std::to_string(limits.max_image_bytes) + " bytes"};
    };
    ZP_CHECK(sink.begin(index));
    const void* buf = nullptr;
    std::size_t n = 0;
    la_int64_t off = 0;
    int rc = archive_read_data_block(outer.get(), &buf, &n, &off);
    if (rc < ARCHIVE_WARN) return read_error(outer, "reading " + where);
    if (rc == ARCHIVE_EOF) n = 0;
    const auto* p = static_cast<const std::uint8_t*>(buf);
    Sha256 blob_hash;
    const bool check_blob = verify_blob && layer.blob_digest.has_value();
    std::uint64_t stored = 0;
    if (!is_compressed_magic(p, n)) {
        // Plain tar: pass the archive's own blocks straight through (no copy).
        std::uint64_t expect = 0;
        while (rc != ARCHIVE_EOF) {
            if (static_cast<std::uint64_t>(off) != expect) return hostile(where + " is a sparse archive member");
            expect += n;
            image_total += n;
            if (image_total > limits.max_image_bytes) return limit_error();
            if (check_blob) blob_hash.update({p, n});
            ZP_CHECK(sink.data({p, n}));
            rc = archive_read_data_block(outer.get(), &buf, &n, &off);
            if (rc < ARCHIVE_WARN) return read_error(outer, "reading " + where);
            p = static_cast<const std::uint8_t*>(buf);
        }
        stored = expect;
    } else {
        PullContext ctx;
        ctx.outer = outer.get();
        ctx.first = buf;
        ctx.first_size = n;
        ctx.expect_offset = n;
        ctx.blob_hash = check_blob ? &blob_hash : nullptr;
        ArchiveReader inner;
        archive_read_support_filter_all(inner.get());
        archive_read_support_format_raw(inner.get());
        if (archive_read_open(inner.get(), &ctx, nullptr, pull_read, nullptr) != ARCHIVE_OK)
            return hostile(where + ": cannot decompress: " + inner.error());
        archive_entry* e = nullptr;
        if (archive_read_next_header(inner.get(), &e) != ARCHIVE_OK)
            return hostile(where + ": cannot decompress: " + (ctx.error.empty() ? inner.error() : ctx.error));
        std::uint64_t out = 0;
        for (;;) {
            rc = archive_read_data_block(inner.get(), &buf, &n, &off);
            if (rc == ARCHIVE_EOF) break;
            if (rc < ARCHIVE_WARN)
                return hostile(where + " is truncated or corrupt: " + (ctx.error.empty() ? inner.error() : ctx.error));
            out += n;
            image_total += n;
            if (image_total > limits.max_image_bytes) return limit_error();
            if (out > limits.ratio_floor && out / std::max<std::uint64_t>(ctx.compressed, 1) > limits.max_ratio)
                return Error{Errc::limit_exceeded, "decompression bomb: " + where + " expands more than " +
                                                       std::to_string(limits.max_ratio) + " times"};
            ZP_CHECK(sink.data({static_cast<const std::uint8_t*>(buf), n}));
        }
        // drain anything the decompressor did not need (trailing garbage is still hashed)
        while (pull_read(nullptr, &ctx, &buf) > 0) {
        }
        if (!ctx.error.empty()) return hostile(where + " is truncated or corrupt: " + ctx.error);
        stored = ctx.compressed;
    }
    if (check_blob) {
        if (layer.blob_size && *layer.blob_size != stored)
            return hostile(where + " is " + std::to_string(stored) + " bytes but its descriptor says " +
                           std::to_string(*layer.blob_size));
        auto got = blob_hash.finish();
        if (got != *layer.blob_digest)
            return Error{Errc::digest_mismatch, where + " hashes to " + digest_string(got) +
                                                    " but its descriptor says " + digest_string(*layer.blob_digest)};
    }
    return sink.end(index);
}

Result<void> stream_layers_impl(const std::filesystem::path& path, const ImageInfo& image,
                                const std::vector<bool>& wanted, LayerSink& sink, const ImageLimits& limits,
                                bool verify_blobs) {
    std::map<std::string, std::size_t> blobs;  // blob -> first wanted layer index
    for (std::size_t i = 0; i < image.layers.size(); ++i)
        if (i < wanted.size() && wanted[i]) blobs.emplace(image.layers[i].blob, i);
    if (blobs.empty()) return {};
    ArchiveReader r;
    ZP_CHECK(open_outer(r, path));
    std::uint64_t total = 0;
    archive_entry* e = nullptr;
    for (;;) {
        int rc = archive_read_next_header(r.get(), &e);
        if (rc == ARCHIVE_EOF) break;
        if (rc < ARCHIVE_WARN) return read_error(r, "reading a header");
        const char* raw = archive_entry_pathname(e);
        if (raw == nullptr) continue;
        auto name = normalize(raw);
        if (!name) continue;
        auto it = blobs.find(*name);
        if (it == blobs.end() || archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e) != nullptr)
            continue;
        ZP_CHECK(stream_blob(r, image.layers[it->second], it->second, sink, limits, total, verify_blobs));
        ZP_CHECK(check_outer_ratio(r.get(), limits));
        blobs.erase(it);
        if (blobs.empty()) return {};
    }
    return hostile("layer blob '" + blobs.begin()->first + "' is missing from the archive");
}

// Inspection sink: hashes, measures and scans every layer.
class InspectSink final : public LayerSink {
  public:
    explicit InspectSink(ImageInfo& image) : image_{image} {}
    Result<void> begin(std::size_t index) override {
        index_ = index;
        size_ = 0;
        scanner_ = LayerScanner{};
        return {};
    }
    Result<void> data(ByteView chunk) override {
        size_ += chunk.size();
        hash_.update(chunk);
        auto r = scanner_.feed(chunk);
        if (!r) return r.error().wrap("layer " + std::to_string(index_));
        return {};
    }
    Result<void> end(std::size_t index) override {
        auto where = "layer " + std::to_string(index) + " ('" + image_.layers[index].blob + "')";
        auto got = hash_.finish();
        if (got != image_.layers[index].diff_id)
            return Error{Errc::digest_mismatch, where + " hashes to " + digest_string(got) +
                                                    " but the config's diff-id is " +
                                                    digest_string(image_.layers[index].diff_id)};
        if (auto r = scanner_.finish(); !r) return r.error().wrap(where);
        for (auto& l : image_.layers)
            if (l.blob == image_.layers[index].blob) l.size = size_;
        return {};
    }

  private:
    ImageInfo& image_;
    std::size_t index_{0};
    std::uint64_t size_{0};
    Sha256 hash_;
    LayerScanner scanner_;
};

}  // namespace

std::uint64_t ImageInfo::total_bytes() const noexcept {
    std::uint64_t t = 0;
    for (const auto& l : layers) t += l.size;
    return t;
}

std::vector<Digest> ImageInfo::diff_ids() const {
    std::vector<Digest> out;
    out.reserve(layers.size());
    for (const auto& l : layers) out.push_back(l.diff_id);
    return out;
}

Result<ImageConfig> parse_image_config(ByteView in, const ImageLimits& limits) {
    auto j = ZP_TRY(parse_json(in, limits, "image config"));
    const auto* rootfs = member(j, "rootfs");
    if (rootfs == nullptr || !rootfs->is_object()) return hostile("image config has no \"rootfs\" object");
    auto type = ZP_TRY(string_member(*rootfs, "type", "image config rootfs"));
    if (type != "layers") return hostile("image config rootfs.type is '" + type + "', expected 'layers'");
    const auto* ids = member(*rootfs, "diff_ids");
    if (ids == nullptr || !ids->is_array()) return hostile("image config has no rootfs.diff_ids array");
    if (ids->size() > limits.max_layers)
        return Error{Errc::limit_exceeded, "image has " + std::to_string(ids->size()) + " layers, more than " +
                                               std::to_string(limits.max_layers)};
    ImageConfig cfg;
    for (const auto& id : *ids) {
        if (!id.is_string()) return hostile("image config rootfs.diff_ids holds a non-string");
        auto d = parse_digest(id.get<std::string>());
        if (!d) return hostile("image config rootfs.diff_ids: " + d.error().message());
        cfg.diff_ids.push_back(*d);
    }
    return cfg;
}

Result<DockerManifest> parse_docker_manifest(ByteView in, const ImageLimits& limits) {
    auto j = ZP_TRY(parse_json(in, limits, "manifest.json"));
    if (!j.is_array()) return hostile("manifest.json is not an array");
    if (j.size() != 1)
        return Error{Errc::unsupported,
                     "manifest.json describes " + std::to_string(j.size()) + " images; exactly one is supported"};
    const auto& img = j[0];
    DockerManifest m;
    m.config = ZP_TRY(string_member(img, "Config", "manifest.json"));
    const auto* layers = member(img, "Layers");
    if (layers == nullptr || !layers->is_array()) return hostile("manifest.json has no \"Layers\" array");
    if (layers->size() > limits.max_layers)
        return Error{Errc::limit_exceeded,
                     "manifest.json lists more than " + std::to_string(limits.max_layers) + " layers"};
    for (const auto& l : *layers) {
        if (!l.is_string()) return hostile("manifest.json \"Layers\" holds a non-string");
        m.layers.push_back(l.get<std::string>());
    }
    if (const auto* tags = member(img, "RepoTags"); tags != nullptr && tags->is_array())
        for (const auto& t : *tags)
            if (t.is_string()) m.repo_tags.push_back(t.get<std::string>());
    return m;
}

std::string encode_docker_manifest(const DockerManifest& m) {
    json img = json::object();
    img["Config"] = m.config;
    img["RepoTags"] = m.repo_tags;
    img["Layers"] = m.layers;
    return json::array({img}).dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<std::vector<OciDescriptor>> parse_oci_index(ByteView in, const ImageLimits& limits) {
    auto j = ZP_TRY(parse_json(in, limits, "OCI index"));
    const auto* ms = member(j, "manifests");
    if (ms == nullptr || !ms->is_array()) return hostile("OCI index has no \"manifests\" array");
    if (ms->size() > limits.max_layers) return Error{Errc::limit_exceeded, "OCI index lists too many manifests"};
    std::vector<OciDescriptor> out;
    for (const auto& d : *ms) out.push_back(ZP_TRY(parse_descriptor(d, "OCI index manifest descriptor")));
    return out;
}

Result<OciManifest> parse_oci_manifest(ByteView in, const ImageLimits& limits) {
    auto j = ZP_TRY(parse_json(in, limits, "OCI manifest"));
    const auto* cfg = member(j, "config");
    if (cfg == nullptr) return hostile("OCI manifest has no \"config\"");
    OciManifest m;
    m.config = ZP_TRY(parse_descriptor(*cfg, "OCI manifest config descriptor"));
    const auto* layers = member(j, "layers");
    if (layers == nullptr || !layers->is_array()) return hostile("OCI manifest has no \"layers\" array");
    if (layers->size() > limits.max_layers) return Error{Errc::limit_exceeded, "OCI manifest lists too many layers"};
    for (const auto& l : *layers) m.layers.push_back(ZP_TRY(parse_descriptor(l, "OCI manifest layer descriptor")));
    return m;
}

Result<ImageInfo> inspect_image(const std::filesystem::path& path, const ImageLimits& limits) {
    auto listing = ZP_TRY(list_archive(path, limits));
    ImageInfo info;
    std::vector<std::string> layer_names;
    if (listing.files.count("manifest.json") != 0 || listing.links.count("manifest.json") != 0) {
        info.format = ArchiveFormat::docker_archive;
        auto mj = ZP_TRY(listing.json_of("manifest.json", "manifest"));
        auto m = ZP_TRY(parse_docker_manifest(mj, limits));
        auto cfg = ZP_TRY(listing.json_of(m.config, "config"));
        info.config.assign(cfg.begin(), cfg.end());
        info.config_digest = sha256(info.config);
        if (auto named = digest_in_name(m.config); named && *named != to_hex(info.config_digest, false))
            return Error{Errc::digest_mismatch, "config '" + m.config + "' hashes to " +
                                                    digest_string(info.config_digest) +
                                                    ", not to the digest in its name"};
        layer_names = m.layers;
        info.repo_tags = m.repo_tags;
    } else if (listing.files.count("index.json") != 0) {
        info.format = ArchiveFormat::oci_layout;
        auto layout = ZP_TRY(listing.json_of("oci-layout", "oci-layout file"));
        auto lj = ZP_TRY(parse_json(layout, limits, "oci-layout"));
        if (!member(lj, "imageLayoutVersion")) return hostile("oci-layout has no imageLayoutVersion");
        auto ij = ZP_TRY(listing.json_of("index.json", "index"));
        auto descs = ZP_TRY(parse_oci_index(ij, limits));
        std::optional<OciManifest> manifest;
        for (int depth = 0; depth < 3 && !manifest; ++depth) {
            if (descs.size() != 1)
                return Error{Errc::unsupported, "OCI index lists " + std::to_string(descs.size()) +
                                                    " manifests; exactly one image is supported"};
            auto bytes = ZP_TRY(listing.json_of(blob_path(descs[0].digest), "manifest"));
            if (sha256(bytes) != descs[0].digest || bytes.size() != descs[0].size)
                return Error{Errc::digest_mismatch,
                             "OCI manifest blob does not match its descriptor " + digest_string(descs[0].digest)};
            if (descs[0].media_type.find("index") != std::string::npos)
                descs = ZP_TRY(parse_oci_index(bytes, limits));
            else
                manifest = ZP_TRY(parse_oci_manifest(bytes, limits));
        }
        if (!manifest) return hostile("OCI index nesting is too deep");
        auto cfg = ZP_TRY(listing.json_of(blob_path(manifest->config.digest), "config"));
        info.config.assign(cfg.begin(), cfg.end());
        info.config_digest = sha256(info.config);
        if (info.config_digest != manifest->config.digest || info.config.size() != manifest->config.size)
            return Error{Errc::digest_mismatch, "config blob hashes to " + digest_string(info.config_digest) +
                                                    " but the manifest says " + digest_string(manifest->config.digest)};
        for (const auto& l : manifest->layers) layer_names.push_back(blob_path(l.digest));
        for (std::size_t i = 0; i < manifest->layers.size(); ++i) {
            info.layers.push_back({});
            info.layers.back().blob_digest = manifest->layers[i].digest;
            info.layers.back().blob_size = manifest->layers[i].size;
        }
    } else {
        return hostile("'" + path.string() +
                       "' is neither a docker-archive (manifest.json) nor an OCI layout (index.json)");
    }
    auto config = ZP_TRY(parse_image_config(info.config, limits));
    if (config.diff_ids.size() != layer_names.size())
        return hostile("the manifest lists " + std::to_string(layer_names.size()) + " layers but the config has " +
                       std::to_string(config.diff_ids.size()) + " diff-ids");
    info.layers.resize(layer_names.size());
    for (std::size_t i = 0; i < layer_names.size(); ++i) {
        auto& l = info.layers[i];
        l.diff_id = config.diff_ids[i];
        l.blob = ZP_TRY(listing.resolve(layer_names[i], "layer"));
    }
    InspectSink sink{info};
    ZP_CHECK(stream_layers_impl(path, info, std::vector<bool>(info.layers.size(), true), sink, limits, true));
    return info;
}

Result<void> stream_layers(const std::filesystem::path& path, const ImageInfo& image, const std::vector<bool>& wanted,
                           LayerSink& sink, const ImageLimits& limits) {
    return stream_layers_impl(path, image, wanted, sink, limits, false);
}

Result<void> write_docker_archive(const std::filesystem::path& out, ByteView config,
                                  const std::vector<Digest>& diff_ids,
                                  const std::vector<std::filesystem::path>& layer_files,
                                  const std::vector<std::string>& repo_tags) {
    if (diff_ids.size() != layer_files.size())
        return Error{Errc::invalid_argument, "write_docker_archive: diff-ids and layer files differ in count"};
    auto tmp = out;
    tmp += ".tmp" + std::to_string(::getpid());
    ArchiveWriter w;
    archive_write_set_format_pax_restricted(w.get());
    archive_write_set_bytes_in_last_block(w.get(), 1);
    if (archive_write_open_filename(w.get(), tmp.c_str()) != ARCHIVE_OK)
        return Error{Errc::io, "cannot create '" + tmp.string() + "': " + w.error()};
    auto add = [&](const std::string& name, std::uint64_t size, auto&& write_body) -> Result<void> {
        detail::Entry e;
        archive_entry_set_pathname(e.get(), name.c_str());
        archive_entry_set_size(e.get(), static_cast<la_int64_t>(size));
        archive_entry_set_filetype(e.get(), AE_IFREG);
        archive_entry_set_perm(e.get(), 0644);
        if (archive_write_header(w.get(), e.get()) != ARCHIVE_OK)
            return Error{Errc::io, "writing '" + tmp.string() + "': " + w.error()};
        ZP_CHECK(write_body());
        return {};
    };
    auto write_bytes = [&](ByteView b) -> Result<void> {
        if (archive_write_data(w.get(), b.data(), b.size()) != static_cast<la_ssize_t>(b.size()))
            return Error{Errc::io, "writing '" + tmp.string() + "': " + w.error()};
        return {};
    };
    auto fail = [&](Error e) {
        std::error_code ec;
        std::filesystem::remove(tmp, ec);
        return e;
    };
    DockerManifest m;
    m.config = to_hex(sha256(config), false) + ".json";
    m.repo_tags = repo_tags;
    std::set<Digest> written;
    Bytes buf(kBlock);
    for (std::size_t i = 0; i < diff_ids.size(); ++i) {
        auto name = to_hex(diff_ids[i], false) + ".tar";
        m.layers.push_back(name);
        if (!written.insert(diff_ids[i]).second) continue;
        std::error_code ec;
        auto size = std::filesystem::file_size(layer_files[i], ec);
        if (ec) return fail(Error{Errc::io, "cannot stat layer '" + layer_files[i].string() + "': " + ec.message()});
        int fd = ::open(layer_files[i].c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return fail(Error{Errc::io, "cannot open layer '" + layer_files[i].string() + "'"});
        auto r = add(name, size, [&]() -> Result<void> {
            std::uint64_t done = 0;
            while (done < size) {
                auto n = ::read(fd, buf.data(), buf.size());
                if (n <= 0) return Error{Errc::io, "reading layer '" + layer_files[i].string() + "' failed"};
                ZP_CHECK(write_bytes({buf.data(), static_cast<std::size_t>(n)}));
                done += static_cast<std::uint64_t>(n);
            }
            return {};
        });
        ::close(fd);
        if (!r) return fail(r.error());
    }
    if (auto r = add(m.config, config.size(), [&] { return write_bytes(config); }); !r) return fail(r.error());
    auto manifest = encode_docker_manifest(m);
    if (auto r = add("manifest.json", manifest.size(), [&] { return write_bytes(as_view(manifest)); }); !r)
        return fail(r.error());
    if (archive_write_close(w.get()) != ARCHIVE_OK)
        return fail(Error{Errc::io, "closing '" + tmp.string() + "': " + w.error()});
    std::error_code ec;
    std::filesystem::rename(tmp, out, ec);
    if (ec) return fail(Error{Errc::io, "cannot rename '" + tmp.string() + "': " + ec.message()});
    return {};
}

}  // namespace zeppelin::transfer
