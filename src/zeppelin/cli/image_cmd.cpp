// `zeppelin image inspect <archive|name>`: the identity a client commits to on chain for an
// image: the config digest and the layers' diff-ids. The image is either an archive
// (`docker save`/`podman save` tar or OCI layout tar) or, when no such file exists, the name of
// an image the local container engine holds (exported through the Docker Engine API).
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "zeppelin/cli/commands.hpp"
#include "zeppelin/runtime/engine.hpp"
#include "zeppelin/transfer/digest.hpp"
#include "zeppelin/transfer/image.hpp"

namespace zeppelin::cli {
namespace {

namespace fs = std::filesystem;

/// Removes a temporary export when it goes out of scope.
class TempFile final {
public:
    explicit TempFile(fs::path p) : path_{std::move(p)} {}
    ~TempFile() {
        std::error_code ec;
        fs::remove(path_, ec);
    }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

void inspect(const std::string& image, bool json) {
    std::unique_ptr<TempFile> exported;
    fs::path archive = image;
    std::string source = "archive";
    if (!fs::exists(archive)) {
        auto engine = runtime::Engine::from_environment();
        if (!engine)
            throw Exception{engine.error().wrap("\"" + image + "\" is not a file, and the container engine")};
        exported = std::make_unique<TempFile>(fs::temp_directory_path() /
                                              ("zeppelin-export-" + std::to_string(::getpid()) + ".tar"));
        auto r = engine->export_image(image, exported->path());
        if (!r) throw Exception{r.error().wrap("\"" + image + "\" is not a file, and exporting it from the engine failed")};
        archive = exported->path();
        source = "engine";
    }
    auto info = transfer::inspect_image(archive);
    if (!info) throw Exception{info.error().wrap("inspecting " + image)};
    if (json) {
        nlohmann::json j;
        j["image"] = image;
        j["source"] = source;
        j["format"] = info->format == transfer::ArchiveFormat::oci_layout ? "oci" : "docker-archive";
        j["configDigest"] = transfer::digest_string(info->config_digest);
        j["totalBytes"] = info->total_bytes();
        j["layers"] = nlohmann::json::array();
        for (const auto& l : info->layers)
            j["layers"].push_back({{"diffId", transfer::digest_string(l.diff_id)}, {"size", l.size}});
        j["repoTags"] = info->repo_tags;
        fmt::print("{}\n", j.dump(2));
        return;
    }
    fmt::print("config digest: {}\n", transfer::digest_string(info->config_digest));
    fmt::print("layers:        {} ({} bytes uncompressed)\n", info->layers.size(), info->total_bytes());
    for (const auto& l : info->layers) fmt::print("  {}  {} bytes\n", transfer::digest_string(l.diff_id), l.size);
}

}  // namespace

void add_image_commands(CLI::App& app) {
    auto* group = app.add_subcommand("image", "Container images: the identity committed on chain");
    group->require_subcommand(1);
    auto* cmd = group->add_subcommand("inspect", "Print an image's config digest and layer diff-ids");
    auto image = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    cmd->add_option("image", *image, "An image archive (docker save / OCI layout tar) or an image name the engine holds")
        ->required();
    cmd->add_flag("--json", *json, "Print as JSON");
    cmd->callback([image, json] { inspect(*image, *json || global_options().json); });
}

}  // namespace zeppelin::cli
