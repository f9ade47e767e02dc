// Image manifest / config / layer-tar parser fuzz target. The first input byte selects the parser.
// Properties:
//   - docker manifest.json and OCI manifests: whatever parses re-encodes (canonically) to a
//     document that parses to the same value (round trip);
//   - image config: the diff-ids survive re-serialization through digest_string/parse_digest;
//   - the layer tar scanner gives the same verdict whether the stream arrives whole or in
//     pieces, and never reads out of bounds (ASan).
#include <cstdint>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "zeppelin/transfer/image.hpp"
#include "zeppelin/transfer/tar_scan.hpp"

using namespace zeppelin;
using namespace zeppelin::transfer;

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

std::string encode_oci(const OciManifest& m) {
    auto desc = [](const OciDescriptor& d) {
        return nlohmann::json{{"mediaType", d.media_type}, {"digest", digest_string(d.digest)}, {"size", d.size}};
    };
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& l : m.layers) layers.push_back(desc(l));
    return nlohmann::json{{"config", desc(m.config)}, {"layers", layers}}.dump(
        -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    ByteView in{data + 1, size - 1};
    switch (data[0] % 4) {
        case 0: {
            auto m = parse_docker_manifest(in);
            if (!m) return 0;
            auto text = encode_docker_manifest(*m);
            auto again = parse_docker_manifest(as_view(text));
            // replace-on-invalid-UTF-8 may change strings; only compare when nothing was replaced
            if (again && text.find("\xEF\xBF\xBD") == std::string::npos) check(*again == *m);
            return 0;
        }
        case 1: {
            auto c = parse_image_config(in);
            if (!c) return 0;
            for (const auto& d : c->diff_ids) check(parse_digest(digest_string(d)).value() == d);
            return 0;
        }
        case 2: {
            auto m = parse_oci_manifest(in);
            if (!m) return 0;
            auto text = encode_oci(*m);
            auto again = parse_oci_manifest(as_view(text));
            if (again && text.find("\xEF\xBF\xBD") == std::string::npos) check(*again == *m);
            (void)parse_oci_index(in);
            return 0;
        }
        default: {
            LayerScanner whole;
            auto a = whole.feed(in);
            bool ok_whole = a.has_value() && whole.finish().has_value();
            LayerScanner pieces;
            bool ok_pieces = true;
            for (std::size_t i = 0; i < in.size() && ok_pieces; i += 13)
                ok_pieces = pieces.feed(in.subspan(i, std::min<std::size_t>(13, in.size() - i))).has_value();
            ok_pieces = ok_pieces && pieces.finish().has_value();
            check(ok_whole == ok_pieces);
            return 0;
        }
    }
}
