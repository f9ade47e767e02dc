#include "zeppelin/transfer/protocol.hpp"

#include <cstring>

namespace zeppelin::transfer::protocol {

namespace {

class Writer {
  public:
    explicit Writer(FrameType t) : type_{t} { out_.resize(kHeaderSize); }
    void u8(std::uint8_t v) { out_.push_back(v); }
    void u16(std::uint16_t v) { be(v, 2); }
    void u32(std::uint32_t v) { be(v, 4); }
    void u64(std::uint64_t v) { be(v, 8); }
    void bytes(ByteView b) { out_.insert(out_.end(), b.begin(), b.end()); }
    void str16(const std::string& s) {
        u16(static_cast<std::uint16_t>(s.size()));
        bytes(as_view(s));
    }
    void str32(const std::string& s) {
        u32(static_cast<std::uint32_t>(s.size()));
        bytes(as_view(s));
    }
    Bytes finish() {
        write_header(out_.data(), type_, static_cast<std::uint32_t>(out_.size() - kHeaderSize));
        return std::move(out_);
    }

  private:
    void be(std::uint64_t v, int n) {
        for (int i = n - 1; i >= 0; --i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }
    FrameType type_;
    Bytes out_;
};

class Reader {
  public:
    explicit Reader(ByteView in) : in_{in} {}
    bool u8(std::uint8_t& v) {
        std::uint64_t x = 0;
        if (!be(x, 1)) return false;
        v = static_cast<std::uint8_t>(x);
        return true;
    }
    bool u16(std::uint16_t& v) {
        std::uint64_t x = 0;
        if (!be(x, 2)) return false;
        v = static_cast<std::uint16_t>(x);
        return true;
    }
    bool u32(std::uint32_t& v) {
        std::uint64_t x = 0;
        if (!be(x, 4)) return false;
        v = static_cast<std::uint32_t>(x);
        return true;
    }
    bool u64(std::uint64_t& v) { return be(v, 8); }
    bool take(std::size_t n, ByteView& out) {
        if (in_.size() - pos_ < n) return false;
        out = in_.subspan(pos_, n);
        pos_ += n;
        return true;
    }
    bool digest(Digest& d) {
        ByteView b;
        if (!take(32, b)) return false;
        std::memcpy(d.data(), b.data(), 32);
        return true;
    }
    bool str(std::size_t n, std::string& s) {
        ByteView b;
        if (!take(n, b)) return false;
        s.assign(reinterpret_cast<const char*>(b.data()), b.size());
        return true;
    }
    [[nodiscard]] std::size_t left() const { return in_.size() - pos_; }

  private:
    bool be(std::uint64_t& v, std::size_t n) {
        if (in_.size() - pos_ < n) return false;
        v = 0;
        for (std::size_t i = 0; i < n; ++i) v = (v << 8) | in_[pos_ + i];
        pos_ += n;
        return true;
    }
    ByteView in_;
    std::size_t pos_{0};
};

std::optional<std::string> spec_size_problem(std::size_t n) {
    if (n == 0) return "the probe spec is empty";
    if (n > kMaxSpec)
        return "the probe spec is " + std::to_string(n) + " bytes, more than the " + std::to_string(kMaxSpec) +
               " bytes that travel with the image";
    return std::nullopt;
}

Error bad(FrameType t, const std::string& why) {
    return Error{Errc::protocol, std::string{"malformed "} + type_name(t) + " message: " + why};
}

}  // namespace

Result<void> check_spec(const SpecReveal& s) {
    if (auto why = spec_size_problem(s.spec.size())) return Error{Errc::invalid_argument, *why};
    return {};
}

const char* type_name(FrameType t) noexcept {
    switch (t) {
        case FrameType::hello:
            return "HELLO";
        case FrameType::offer:
            return "OFFER";
        case FrameType::layer:
            return "LAYER";
        case FrameType::data:
            return "DATA";
        case FrameType::layer_end:
            return "LAYER_END";
        case FrameType::done:
            return "DONE";
        case FrameType::status:
            return "STATUS";
    }
    return "unknown";
}

void write_header(std::uint8_t* out, FrameType type, std::uint32_t length) noexcept {
    out[0] = static_cast<std::uint8_t>(type);
    out[1] = static_cast<std::uint8_t>(length >> 24);
    out[2] = static_cast<std::uint8_t>(length >> 16);
    out[3] = static_cast<std::uint8_t>(length >> 8);
    out[4] = static_cast<std::uint8_t>(length);
}

Result<FrameHeader> parse_header(ByteView h) {
    if (h.size() < kHeaderSize) return Error{Errc::protocol, "frame header is shorter than 5 bytes"};
    if (h[0] < 1 || h[0] > 7) return Error{Errc::protocol, "unknown frame type " + std::to_string(h[0])};
    std::uint32_t len = (std::uint32_t{h[1]} << 24) | (std::uint32_t{h[2]} << 16) | (std::uint32_t{h[3]} << 8) | h[4];
    if (len > kMaxPayload)
        return Error{Errc::protocol,
                     "frame of " + std::to_string(len) + " bytes exceeds the limit of " + std::to_string(kMaxPayload)};
    return FrameHeader{static_cast<FrameType>(h[0]), len};
}

Bytes encode(const Message& m) {
    return std::visit(
        [](const auto& msg) -> Bytes {
            using T = std::decay_t<decltype(msg)>;
            if constexpr (std::is_same_v<T, Hello>) {
                Writer w{FrameType::hello};
                w.u16(msg.version);
                w.str16(msg.agreement_id);
                w.bytes(msg.config_digest.view());
                w.u32(static_cast<std::uint32_t>(msg.config.size()));
                w.bytes(msg.config);
                w.u32(static_cast<std::uint32_t>(msg.layers.size()));
                for (const auto& l : msg.layers) {
                    w.bytes(l.diff_id.view());
                    w.u64(l.size);
                }
                if (msg.version >= 2) {
                    w.u8(msg.spec ? 1 : 0);
                    if (msg.spec) {
                        w.u16(static_cast<std::uint16_t>(msg.spec->spec.size()));  // check_spec keeps it <= kMaxSpec
                        w.bytes(as_view(msg.spec->spec));
                        w.bytes(msg.spec->salt.view());
                    }
                }
                return w.finish();
            } else if constexpr (std::is_same_v<T, Offer>) {
                Writer w{FrameType::offer};
                w.u32(static_cast<std::uint32_t>(msg.offsets.size()));
                for (auto o : msg.offsets) w.u64(o);
                return w.finish();
            } else if constexpr (std::is_same_v<T, LayerBegin>) {
                Writer w{FrameType::layer};
                w.u32(msg.index);
                w.u64(msg.offset);
                w.u8(static_cast<std::uint8_t>(msg.codec));
                return w.finish();
            } else if constexpr (std::is_same_v<T, Data>) {
                Writer w{FrameType::data};
                w.bytes(msg.bytes);
                return w.finish();
            } else if constexpr (std::is_same_v<T, LayerEnd>) {
                Writer w{FrameType::layer_end};
                w.u32(msg.index);
                return w.finish();
            } else if constexpr (std::is_same_v<T, Done>) {
                return Writer{FrameType::done}.finish();
            } else {
                Writer w{FrameType::status};
                w.u8(msg.ok ? 1 : 0);
                w.u16(static_cast<std::uint16_t>(msg.code));
                w.str32(msg.message);
                return w.finish();
            }
        },
        m);
}

Result<Message> decode(FrameType type, ByteView payload) {
    Reader r{payload};
    auto end = [&](Message m) -> Result<Message> {
        if (r.left() != 0) return bad(type, std::to_string(r.left()) + " trailing bytes");
        return m;
    };
    switch (type) {
        case FrameType::hello: {
            Hello h;
            std::uint16_t id_len = 0;
            std::uint32_t cfg_len = 0;
            std::uint32_t n = 0;
            if (!r.u16(h.version)) return bad(type, "truncated");
            if (h.version < kMinVersion || h.version > kVersion)
                return Error{Errc::unsupported, "protocol version " + std::to_string(h.version) + " is not supported (" +
                                                    std::to_string(kMinVersion) + " to " + std::to_string(kVersion) + " are)"};
            if (!r.u16(id_len) || !r.str(id_len, h.agreement_id) || !r.digest(h.config_digest) || !r.u32(cfg_len))
                return bad(type, "truncated");
            if (cfg_len > kMaxConfig) return bad(type, "config larger than 1 MiB");
            ByteView cfg;
            if (!r.take(cfg_len, cfg)) return bad(type, "truncated config");
            h.config.assign(cfg.begin(), cfg.end());
            if (!r.u32(n)) return bad(type, "truncated");
            if (n > kMaxLayers) return bad(type, "too many layers");
            for (std::uint32_t i = 0; i < n; ++i) {
                LayerRef l;
                if (!r.digest(l.diff_id) || !r.u64(l.size)) return bad(type, "truncated layer list");
                h.layers.push_back(l);
            }
            if (h.version >= 2) {
                std::uint8_t has_spec = 0;
                if (!r.u8(has_spec)) return bad(type, "truncated before the spec flag");
                if (has_spec > 1) return bad(type, "spec flag " + std::to_string(has_spec) + " is not 0 or 1");
                if (has_spec == 1) {
                    SpecReveal s;
                    std::uint16_t spec_len = 0;
                    if (!r.u16(spec_len)) return bad(type, "truncated probe spec");
                    if (auto why = spec_size_problem(spec_len)) return bad(type, *why);  // before its bytes are read
                    ByteView salt;
                    if (!r.str(spec_len, s.spec) || !r.take(32, salt)) return bad(type, "truncated probe spec");
                    std::memcpy(s.salt.bytes.data(), salt.data(), 32);
                    h.spec = std::move(s);
                }
            }
            return end(std::move(h));
        }
        case FrameType::offer: {
            Offer o;
            std::uint32_t n = 0;
            if (!r.u32(n)) return bad(type, "truncated");
            if (n > kMaxLayers) return bad(type, "too many layers");
            for (std::uint32_t i = 0; i < n; ++i) {
                std::uint64_t v = 0;
                if (!r.u64(v)) return bad(type, "truncated");
                o.offsets.push_back(v);
            }
            return end(std::move(o));
        }
        case FrameType::layer: {
            LayerBegin l;
            std::uint8_t codec = 0;
            if (!r.u32(l.index) || !r.u64(l.offset) || !r.u8(codec)) return bad(type, "truncated");
            if (codec > 1) return bad(type, "unknown codec " + std::to_string(codec));
            l.codec = static_cast<Codec>(codec);
            return end(l);
        }
        case FrameType::data:
            return Message{Data{Bytes(payload.begin(), payload.end())}};
        case FrameType::layer_end: {
            LayerEnd l;
            if (!r.u32(l.index)) return bad(type, "truncated");
            return end(l);
        }
        case FrameType::done:
            return end(Done{});
        case FrameType::status: {
            Status s;
            std::uint8_t ok = 0;
            std::uint16_t code = 0;
            std::uint32_t len = 0;
            if (!r.u8(ok) || !r.u16(code) || !r.u32(len) || !r.str(len, s.message)) return bad(type, "truncated");
            if (ok > 1) return bad(type, "ok flag is not 0 or 1");
            if (code > static_cast<std::uint16_t>(Errc::internal)) return bad(type, "unknown error code");
            s.ok = ok == 1;
            s.code = static_cast<Errc>(code);
            return end(std::move(s));
        }
    }
    return Error{Errc::protocol, "unknown frame type"};
}

}  // namespace zeppelin::transfer::protocol
