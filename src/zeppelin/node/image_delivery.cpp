#include "zeppelin/node/context.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/runtime/work.hpp"

namespace zeppelin::node {

using namespace std::chrono_literals;

/// Records that an image this node brought into the engine was used now. Images the engine held
/// before (the operator's own) are not recorded, so never removed, unless `brought`.
void NodeContext::note_image(const transfer::Digest& digest, bool brought) {
    std::lock_guard lock{images_mu};
    auto kept = kept_images();
    const auto hex = to_hex(digest, false);
    if (!brought && !kept.contains(hex)) return;
    kept[hex] = now_ms();
    (void)store->set(kKeptImages, kept.dump());
}

json NodeContext::kept_images() {
    const auto text = store->setting(kKeptImages);
    if (!text || !*text) return json::object();
    auto j = json::parse(**text, nullptr, false);
    return j.is_object() ? j : json::object();
}

/// Removes the least recently used images beyond --keep-images. One a container still uses is
/// refused by the engine and stays (tried again next time).
void NodeContext::prune_images() {
    std::lock_guard lock{images_mu};
    auto kept = kept_images();
    if (kept.size() <= opt.keep_images) return;
    std::vector<std::pair<std::int64_t, std::string>> by_age;
    for (const auto& [hex, used] : kept.items()) by_age.emplace_back(used.is_number() ? used.get<std::int64_t>() : 0, hex);
    std::sort(by_age.begin(), by_age.end());
    for (std::size_t i = 0; i + opt.keep_images < by_age.size(); ++i) {
        const auto& hex = by_age[i].second;
        const auto r = engine->remove_image("sha256:" + hex);
        if (r || r.error().code() == Errc::not_found) {
            spdlog::info("image {} removed from the engine (least recently used beyond --keep-images {})", hex.substr(0, 12),
                         opt.keep_images);
            kept.erase(hex);
        }
    }
    (void)store->set(kKeptImages, kept.dump());
}

/// Has the engine pull an image while its transfer is under way: each layer is served as its
/// bytes reach the cache, and its last byte only once the transfer server has verified the
/// whole layer (hash and contents) and committed it; a layer that fails is cut short, and the
/// engine, which checks every blob against the committed digest, keeps nothing of it.
Result<void> NodeContext::pull_arriving(std::uint64_t id, const transfer::Digest& digest, const transfer::IncomingImage& img) {
    node::RegistryImage image;
    image.config = img.config;
    // Every position, a layer that appears twice included: the manifest lists the layers in the
    // config's order (the registry serves a blob once, by digest).
    for (std::size_t i = 0; i < img.diff_ids.size(); ++i) {
        const auto& d = img.diff_ids[i];
        const auto size = img.sizes[i];
        image.layers.push_back({d, {}, size, [this, id, d, size](const ChunkWriter& write) {
                                    follow_layer(transfer->cache(), std::to_string(id), d, size, write, [this, id] {
                                        std::lock_guard lock{mu};
                                        const auto it = received.find(id);
                                        return it != received.end() && !it->second;
                                    });
                                }});
    }
    const auto published = ZP_TRY(image_registry->publish(image));
    auto pulled = engine->pull_image(published.reference, {.tls_verify = false});
    image_registry->withdraw(published.name);
    const auto ref = "sha256:" + to_hex(digest, false);
    if (!pulled) return pulled.error();
    const auto tag = to_hex(digest, false).substr(0, 12);
    if (engine->tag_image(ref, "localhost/zeppelin/image", tag)) (void)engine->remove_image(published.reference);
    if (*pulled != ref) return make_error(Errc::engine_error, "the engine pulled " + *pulled + " instead of " + ref);
    return {};
}

/// Puts a received image into the engine: pulled from the node's loopback registry (each layer
/// read once, straight from the cache), or, if that fails, loaded as an assembled archive.
Result<void> NodeContext::bring_image(std::uint64_t id, const transfer::Digest& digest, const ReceivedRecord& rec) {
    const auto ref = "sha256:" + to_hex(digest, false);
    if (rec.held || rec.config_hex.empty()) {
        // It was held and is gone (pruned meanwhile): the client's transfer brings it again.
        ZP_CHECK(update(id, [](LocalAgreement& la) { la.rec.received.reset(); }));
        {
            std::lock_guard lock{mu};
            expected.erase(id);
        }
        return make_error(Errc::not_found, "the engine no longer holds image " + ref + "; waiting for the transfer");
    }
    const auto config_bytes = ZP_TRY(from_hex(rec.config_hex));
    std::vector<transfer::Digest> diff_ids;
    for (const auto& d : rec.diff_ids) diff_ids.push_back(ZP_TRY(transfer::parse_digest(d)));
    auto& cache = transfer->cache();
    node::RegistryImage image;
    image.config = config_bytes;
    std::vector<fs::path> files;
    struct Unpin {
        transfer::LayerCache& c;
        std::vector<transfer::Digest> pinned;
        ~Unpin() {
            for (const auto& d : pinned) c.unpin(d);
        }
    } unpin{cache, {}};
    // Every position goes in the manifest (a layer may appear twice); each distinct one is pinned once.
    for (const auto& d : diff_ids) {
        files.push_back(cache.path_of(d));
        std::uint64_t size = 0;
        if (!cache.contains(d, &size))
            return make_error(Errc::not_found, "layer " + transfer::short_digest(d) + " of agreement " + std::to_string(id) +
                                                   " left the layer cache before it was loaded");
        if (std::find(unpin.pinned.begin(), unpin.pinned.end(), d) == unpin.pinned.end()) {
            cache.pin(d);
            unpin.pinned.push_back(d);
        }
        image.layers.push_back({d, cache.path_of(d), size, {}});
    }
    if (image_registry) {
        auto published = image_registry->publish(image);
        auto pulled = published ? engine->pull_image(published->reference, {.tls_verify = false})
                                : Result<std::string>{published.error()};
        if (published) image_registry->withdraw(published->name);
        if (pulled && *pulled == ref) {
            // Named after the image instead of the registry's throwaway name.
            const auto tag = to_hex(digest, false).substr(0, 12);
            if (engine->tag_image(ref, "localhost/zeppelin/image", tag))
                (void)engine->remove_image(published->reference);
            return {};
        }
        spdlog::warn("agreement {}: the engine could not pull the image from this node's registry ({}); loading an archive instead",
                     id, pulled ? "it pulled " + *pulled : pulled.error().message());
    }
    const auto archive = opt.data_dir / "images" / ("agreement-" + std::to_string(id) + ".tar");
    std::error_code ec;
    fs::create_directories(archive.parent_path(), ec);
    ZP_CHECK(transfer::write_docker_archive(archive, config_bytes, diff_ids, files));
    auto loaded = engine->load_image(archive);
    fs::remove(archive, ec);
    if (!loaded) return loaded.error();
    if (loaded->id != ref) return make_error(Errc::engine_error, "the engine loaded " + loaded->id + " instead of " + ref);
    spdlog::info("agreement {}: image {} loaded from an archive", id, transfer::short_digest(digest));
    return {};
}

}  // namespace zeppelin::node
