// The loopback registry over real sockets: what an engine's pull asks for, what a stranger gets.
// (An engine really pulling from it: tests/runtime/runtime_integration_test.cpp.)
#include "zeppelin/node/registry.hpp"

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wtsan"
#endif

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>
#include <nlohmann/json.hpp>

#include "support/raw_http.hpp"
#include "support/test_image.hpp"
#include "zeppelin/transfer/digest.hpp"

using namespace zeppelin;
using namespace zeppelin::node;
using test::request;

namespace {

struct Fixture {
    test::TempDir dir{"zp-registry"};
    std::string layer = std::string(300'000, 'L') + "tail";
    std::string config = R"({"rootfs":{"type":"layers","diff_ids":["x"]}})";
    RegistryImage image() const {
        const auto file = dir.path() / "layer.tar";
        std::ofstream{file, std::ios::binary} << layer;
        RegistryImage img;
        img.config = to_bytes(config);
        img.layers.push_back({transfer::sha256(as_view(layer)), file, layer.size(), {}});
        return img;
    }
};

std::string path_of(const Published& p, std::string_view what) {
    return "/v2/" + p.name + "/" + std::string{what};
}

}  // namespace

TEST(LocalRegistry, ServesManifestConfigAndLayersOfAPublishedImage) {
    Fixture f;
    auto registry = LocalRegistry::start().value();
    const auto img = f.image();
    const auto pub = registry->publish(img).value();
    EXPECT_EQ(pub.reference, "127.0.0.1:" + std::to_string(registry->port()) + "/" + pub.name + ":latest");
    EXPECT_EQ(pub.name.size(), std::string{"zeppelin/"}.size() + 32);

    const auto base = request(registry->port(), "GET", "/v2/");
    EXPECT_EQ(base.status, 200u);
    EXPECT_NE(base.head.find("Docker-Distribution-API-Version: registry/2.0"), std::string::npos);

    const auto m = request(registry->port(), "GET", path_of(pub, "manifests/latest"));
    ASSERT_EQ(m.status, 200u) << m.body;
    EXPECT_NE(m.head.find("application/vnd.docker.distribution.manifest.v2+json"), std::string::npos);
    const auto manifest = nlohmann::json::parse(m.body);
    const auto config_digest = transfer::digest_string(transfer::sha256(as_view(f.config)));
    EXPECT_EQ(manifest["config"]["digest"], config_digest);
    EXPECT_EQ(manifest["config"]["size"], f.config.size());
    ASSERT_EQ(manifest["layers"].size(), 1u);
    EXPECT_EQ(manifest["layers"][0]["digest"], transfer::digest_string(img.layers[0].diff_id));
    EXPECT_EQ(manifest["layers"][0]["size"], f.layer.size());
    EXPECT_EQ(manifest["layers"][0]["mediaType"], "application/vnd.docker.image.rootfs.diff.tar");
    // The manifest can be asked for by its own digest too.
    const auto by_digest = transfer::digest_string(transfer::sha256(as_view(m.body)));
    EXPECT_NE(m.head.find("Docker-Content-Digest: " + by_digest), std::string::npos);
    EXPECT_EQ(request(registry->port(), "GET", path_of(pub, "manifests/" + by_digest)).status, 200u);

    const auto c = request(registry->port(), "GET", path_of(pub, "blobs/" + config_digest));
    EXPECT_EQ(c.status, 200u);
    EXPECT_EQ(c.body, f.config);
    const auto layer_path = path_of(pub, "blobs/" + transfer::digest_string(img.layers[0].diff_id));
    const auto l = request(registry->port(), "GET", layer_path);
    EXPECT_EQ(l.status, 200u);
    EXPECT_EQ(l.body, f.layer);  // the whole file, with its length
    EXPECT_NE(l.head.find("Content-Length: " + std::to_string(f.layer.size())), std::string::npos);
    const auto h = request(registry->port(), "HEAD", layer_path);
    EXPECT_EQ(h.status, 200u);
    EXPECT_NE(h.head.find("Content-Length: " + std::to_string(f.layer.size())), std::string::npos);
    EXPECT_TRUE(h.body.empty());
}

TEST(LocalRegistry, StrangersAndWithdrawnImagesGetNothing) {
    Fixture f;
    auto registry = LocalRegistry::start().value();
    const auto img = f.image();
    const auto pub = registry->publish(img).value();
    const auto layer = "blobs/" + transfer::digest_string(img.layers[0].diff_id);
    // Another name (a guess), another blob, a malformed digest, a write.
    const auto guess = request(registry->port(), "GET", "/v2/zeppelin/" + std::string(32, '0') + "/manifests/latest");
    EXPECT_EQ(guess.status, 404u);
    EXPECT_NE(guess.body.find("NAME_UNKNOWN"), std::string::npos);
    const auto other = request(registry->port(), "GET", path_of(pub, "blobs/sha256:" + std::string(64, 'a')));
    EXPECT_EQ(other.status, 404u);
    EXPECT_NE(other.body.find("BLOB_UNKNOWN"), std::string::npos);
    EXPECT_EQ(request(registry->port(), "GET", path_of(pub, "blobs/sha256:zz")).status, 400u);
    EXPECT_EQ(request(registry->port(), "GET", path_of(pub, "manifests/v1")).status, 404u);
    EXPECT_NE(request(registry->port(), "PUT", path_of(pub, "manifests/latest"), "{}").status, 200u);
    // Withdrawn: gone, for every path.
    registry->withdraw(pub.name);
    EXPECT_EQ(request(registry->port(), "GET", path_of(pub, "manifests/latest")).status, 404u);
    EXPECT_EQ(request(registry->port(), "GET", path_of(pub, layer)).status, 404u);
    // A layer file that is not there is refused at publish time.
    auto missing = img;
    missing.layers[0].file = f.dir.path() / "absent.tar";
    const auto refused = registry->publish(missing);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), Errc::not_found);
}

TEST(LocalRegistry, ALayerFileRemovedAfterPublishingIsA404NotACrash) {
    Fixture f;
    auto registry = LocalRegistry::start().value();
    const auto img = f.image();
    const auto pub = registry->publish(img).value();
    std::filesystem::remove(img.layers[0].file);
    const auto r = request(registry->port(), "GET", path_of(pub, "blobs/" + transfer::digest_string(img.layers[0].diff_id)));
    EXPECT_EQ(r.status, 404u);
    EXPECT_EQ(request(registry->port(), "GET", "/v2/").status, 200u);  // and it carries on
}

// ---------------------------------------------------------------- follow_layer

namespace {

struct Following {
    test::TempDir dir{"zp-follow"};
    std::unique_ptr<transfer::LayerCache> cache = transfer::LayerCache::open(dir.path() / "cache", 1ULL << 30).value();
    std::string layer = test::random_bytes(3'000'000, 7);
    transfer::Digest diff_id = transfer::sha256(as_view(layer));
    std::filesystem::path partial = cache->partial_path("agreement-1", diff_id).value();
};

}  // namespace

TEST(FollowLayer, SendsALayerAsItArrivesAndItsEndOnlyOnceCommitted) {
    Following f;
    std::string got;
    std::atomic<bool> committed{false};
    std::atomic<std::size_t> seen_before_commit{0};
    std::thread reader{[&] {
        follow_layer(*f.cache, "agreement-1", f.diff_id, f.layer.size(), [&](std::string_view chunk) {
            got.append(chunk);
            if (!committed) seen_before_commit = got.size();
            return true;
        }, [] { return false; });
    }};
    {
        std::ofstream out{f.partial, std::ios::binary};
        for (std::size_t at = 0; at < f.layer.size(); at += 500'000) {
            out.write(f.layer.data() + at, static_cast<std::streamsize>(std::min<std::size_t>(500'000, f.layer.size() - at)));
            out.flush();
            std::this_thread::sleep_for(std::chrono::milliseconds{20});
        }
    }
    // Complete on disk, not yet verified: everything but the last byte has gone out.
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
    EXPECT_EQ(seen_before_commit.load(), f.layer.size() - 1);
    committed = true;
    ASSERT_TRUE(f.cache->commit(f.partial, f.diff_id, f.layer.size()));
    reader.join();
    EXPECT_EQ(got, f.layer);
}

TEST(FollowLayer, StopsShortWhenTheTransferFailsOrStalls) {
    Following f;
    std::ofstream{f.partial, std::ios::binary} << f.layer.substr(0, 1000);
    std::atomic<bool> failed{false};
    std::size_t got = 0;
    std::thread reader{[&] {
        follow_layer(*f.cache, "agreement-1", f.diff_id, f.layer.size(), [&](std::string_view chunk) {
            got += chunk.size();
            return true;
        }, [&] { return failed.load(); });
    }};
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
    failed = true;
    reader.join();
    EXPECT_EQ(got, 1000u);

    got = 0;
    const auto t0 = std::chrono::steady_clock::now();
    follow_layer(*f.cache, "agreement-1", f.diff_id, f.layer.size(), [&](std::string_view chunk) {
        got += chunk.size();
        return true;
    }, [] { return false; }, std::chrono::milliseconds{100});
    EXPECT_EQ(got, 1000u);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds{5});
    // And a reader that leaves stops it at once (well before the stall).
    const auto t1 = std::chrono::steady_clock::now();
    follow_layer(*f.cache, "agreement-1", f.diff_id, f.layer.size(), [](std::string_view) { return false; },
                 [] { return false; }, std::chrono::seconds{30});
    EXPECT_LT(std::chrono::steady_clock::now() - t1, std::chrono::seconds{5});
}

TEST(FollowLayer, ALayerNotYetBegunIsWaitedForBeyondTheStall) {
    Following f;
    std::size_t got = 0;
    std::thread reader{[&] {
        follow_layer(*f.cache, "agreement-1", f.diff_id, f.layer.size(), [&](std::string_view chunk) {
            got += chunk.size();
            return true;
        }, [] { return false; }, std::chrono::milliseconds{100});
    }};
    // Another layer is being sent first: this one's file appears only after 3 stalls' time.
    std::this_thread::sleep_for(std::chrono::milliseconds{300});
    std::ofstream{f.partial, std::ios::binary} << f.layer;
    ASSERT_TRUE(f.cache->commit(f.partial, f.diff_id, f.layer.size()));
    reader.join();
    EXPECT_EQ(got, f.layer.size());
}

TEST(LocalRegistry, AManifestListsALayerAsOftenAsTheConfigDoes) {
    Fixture f;
    auto img = f.image();
    const auto other = f.dir.path() / "other.tar";
    std::ofstream{other, std::ios::binary} << "other layer";
    img.layers.push_back({transfer::sha256(as_view(std::string{"other layer"})), other, 11, {}});
    img.layers.push_back(img.layers[0]);  // [A, B, A]: the engine must stack A again on top
    const auto manifest = nlohmann::json::parse(registry_manifest(img));
    ASSERT_EQ(manifest["layers"].size(), 3u);
    EXPECT_EQ(manifest["layers"][0]["digest"], manifest["layers"][2]["digest"]);
    EXPECT_NE(manifest["layers"][0]["digest"], manifest["layers"][1]["digest"]);
}
