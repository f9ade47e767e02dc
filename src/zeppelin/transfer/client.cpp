#include "zeppelin/transfer/client.hpp"

#include <zstd.h>

#include <cstring>
#include <map>
#include <set>
#include <thread>

#include "zeppelin/transfer/protocol.hpp"

namespace zeppelin::transfer {

namespace proto = protocol;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kChunk = 1 << 20;

class CStream final {
  public:
    CStream() : c_{ZSTD_createCCtx()} {}
    ~CStream() { ZSTD_freeCCtx(c_); }
    CStream(const CStream&) = delete;
    CStream& operator=(const CStream&) = delete;
    ZSTD_CCtx* get() const noexcept { return c_; }

  private:
    ZSTD_CCtx* c_;
};

int auto_workers(int requested) {
    if (requested >= 0) return requested;
    auto hw = static_cast<int>(std::thread::hardware_concurrency());
    return hw >= 4 ? std::min(hw / 2, 8) : 0;
}

Result<proto::Message> read_message(TlsConnection& c) {
    std::uint8_t h[proto::kHeaderSize];
    ZP_CHECK(c.read_exact(h, sizeof h));
    auto header = ZP_TRY(proto::parse_header({h, sizeof h}));
    Bytes payload(header.length);
    if (header.length > 0) ZP_CHECK(c.read_exact(payload.data(), header.length));
    return proto::decode(header.type, payload);
}

// One attempt's streaming state: LayerSink that frames, compresses and sends.
class Sender final : public LayerSink {
  public:
    Sender(TlsConnection& c, const ImageInfo& info, const std::vector<std::uint64_t>& offsets, const SendOptions& opt,
           Progress& progress, std::vector<std::size_t>& layer_slot, SendStats& stats, Clock::time_point started,
           std::uint64_t done_at_start)
        : c_{c},
          info_{info},
          offsets_{offsets},
          opt_{opt},
          progress_{progress},
          slot_{layer_slot},
          stats_{stats},
          started_{started},
          done_at_start_{done_at_start} {
        frame_.resize(proto::kHeaderSize + kChunk);
        zout_.resize(proto::kHeaderSize + kChunk);
    }

    Result<void> begin(std::size_t index) override {
        index_ = index;
        skip_ = offsets_[index];
        fill_ = 0;
        decided_ = false;
        sent_ = skip_;
        if (skip_ > 0) stats_.resumed_from += skip_;
        auto& lp = progress_.layers[slot_[index]];
        lp.state = LayerProgress::State::pushing;
        lp.done = skip_;
        report(true);
        return {};
    }

    Result<void> data(ByteView chunk) override {
        if (skip_ > 0) {
            auto k = static_cast<std::size_t>(std::min<std::uint64_t>(skip_, chunk.size()));
            chunk = chunk.subspan(k);
            skip_ -= k;
        }
        while (!chunk.empty()) {
            if (decided_ && codec_ == proto::Codec::raw && chunk.size() >= (64U << 10)) {
                // Large block, raw layer: one frame of what is pending plus as much of the block
                // as fits, the block sent in place (no copy; the connection coalesces writes).
                auto k = std::min(chunk.size(), kChunk - fill_);
                auto n = fill_ + k;
                proto::write_header(frame_.data(), proto::FrameType::data, static_cast<std::uint32_t>(n));
                ZP_CHECK(c_.write_buffered({frame_.data(), proto::kHeaderSize + fill_}));
                ZP_CHECK(c_.write_buffered(chunk.first(k)));
                fill_ = 0;
                ZP_CHECK(account(n));
                chunk = chunk.subspan(k);
                continue;
            }
            auto k = std::min(chunk.size(), kChunk - fill_);
            std::memcpy(frame_.data() + proto::kHeaderSize + fill_, chunk.data(), k);
            fill_ += k;
            chunk = chunk.subspan(k);
            if (fill_ == kChunk) ZP_CHECK(flush(false));
        }
        return {};
    }

    Result<void> end(std::size_t index) override {
        ZP_CHECK(flush(true));
        ZP_CHECK(c_.write_buffered(proto::encode(proto::LayerEnd{static_cast<std::uint32_t>(index)})));
        ++stats_.layers_sent;
        auto& lp = progress_.layers[slot_[index]];
        lp.state = LayerProgress::State::pushed;
        lp.done = lp.size;
        report(true);
        return {};
    }

  private:
    ByteView pending() const { return {frame_.data() + proto::kHeaderSize, fill_}; }

    Result<void> decide() {
        decided_ = true;
        codec_ = proto::Codec::raw;
        if (opt_.compress && fill_ >= 4096) {
            sample_.resize(ZSTD_compressBound(fill_));
            auto n = ZSTD_compress(sample_.data(), sample_.size(), frame_.data() + proto::kHeaderSize, fill_, 1);
            if (!ZSTD_isError(n) && static_cast<double>(n) < 0.95 * static_cast<double>(fill_))
                codec_ = proto::Codec::zstd;
        }
        if (codec_ == proto::Codec::zstd) {
            ZSTD_CCtx_reset(cctx_.get(), ZSTD_reset_session_and_parameters);
            ZSTD_CCtx_setParameter(cctx_.get(), ZSTD_c_compressionLevel, opt_.zstd_level);
            ZSTD_CCtx_setParameter(cctx_.get(), ZSTD_c_nbWorkers, auto_workers(opt_.zstd_workers));
            zfill_ = 0;
            ++stats_.layers_compressed;
        }
        return c_.write_buffered(
            proto::encode(proto::LayerBegin{static_cast<std::uint32_t>(index_), offsets_[index_], codec_}));
    }

    Result<void> send_zout() {
        if (zfill_ == 0) return {};
        proto::write_header(zout_.data(), proto::FrameType::data, static_cast<std::uint32_t>(zfill_));
        ZP_CHECK(c_.write_buffered({zout_.data(), proto::kHeaderSize + zfill_}));
        zfill_ = 0;
        return {};
    }

    Result<void> flush(bool last) {
        if (!decided_) ZP_CHECK(decide());
        if (codec_ == proto::Codec::raw) {
            if (fill_ > 0) {
                proto::write_header(frame_.data(), proto::FrameType::data, static_cast<std::uint32_t>(fill_));
                ZP_CHECK(c_.write_buffered({frame_.data(), proto::kHeaderSize + fill_}));
            }
        } else {
            ZSTD_inBuffer in{frame_.data() + proto::kHeaderSize, fill_, 0};
            auto mode = last ? ZSTD_e_end : ZSTD_e_continue;
            for (;;) {
                ZSTD_outBuffer out{zout_.data() + proto::kHeaderSize, kChunk, zfill_};
                auto rc = ZSTD_compressStream2(cctx_.get(), &out, &in, mode);
                if (ZSTD_isError(rc)) return Error{Errc::internal, std::string{"zstd: "} + ZSTD_getErrorName(rc)};
                zfill_ = out.pos;
                if (zfill_ == kChunk) ZP_CHECK(send_zout());
                bool input_done = in.pos == in.size;
                if (input_done && (!last || rc == 0)) break;
            }
            if (last) ZP_CHECK(send_zout());
        }
        auto n = fill_;
        fill_ = 0;
        return account(n);
    }

    Result<void> account(std::size_t n) {
        sent_ += n;
        stats_.layer_bytes_sent += n;
        progress_.layers[slot_[index_]].done = sent_;
        ZP_CHECK(check_worker_status());
        report(false);
        return {};
    }

    // The worker only speaks during streaming to refuse (STATUS); notice it early.
    Result<void> check_worker_status() {
        if (!c_.readable()) return {};
        auto m = read_message(c_);
        if (!m) return m.error();
        if (auto* s = std::get_if<proto::Status>(&*m); s != nullptr && !s->ok) return s->to_error();
        return Error{Errc::protocol, "unexpected message from the worker while sending"};
    }

    void report(bool force) {
        if (!opt_.progress) return;
        auto now = Clock::now();
        if (!force && now - last_report_ < std::chrono::milliseconds(100)) return;
        last_report_ = now;
        std::uint64_t done = 0;
        for (const auto& l : progress_.layers) done += l.done;
        progress_.bytes_done = done;
        progress_.wire_bytes = stats_.wire_bytes + c_.transport_bytes();
        double secs = std::chrono::duration<double>(now - started_).count();
        progress_.rate = secs > 0 ? static_cast<double>(done - std::min(done, done_at_start_)) / secs : 0;
        progress_.eta_seconds =
            progress_.rate > 0 ? static_cast<double>(progress_.bytes_total - done) / progress_.rate : -1;
        opt_.progress(progress_);
    }

    TlsConnection& c_;
    const ImageInfo& info_;
    const std::vector<std::uint64_t>& offsets_;
    const SendOptions& opt_;
    Progress& progress_;
    std::vector<std::size_t>& slot_;
    SendStats& stats_;
    Clock::time_point started_;
    std::uint64_t done_at_start_;
    Clock::time_point last_report_{};
    std::size_t index_{0};
    std::uint64_t skip_{0};
    std::uint64_t sent_{0};
    Bytes frame_;  // [header][up to 1 MiB of layer bytes]
    std::size_t fill_{0};
    Bytes zout_;  // [header][up to 1 MiB of zstd output]
    std::size_t zfill_{0};
    Bytes sample_;
    bool decided_{false};
    proto::Codec codec_{proto::Codec::raw};
    CStream cctx_;
};

}  // namespace

Result<SendStats> send_image(const Endpoint& worker, const std::string& agreement_id, const Secret& secret,
                             const std::filesystem::path& image, const SendOptions& options) {
    auto info = ZP_TRY(inspect_image(image, options.limits));
    return send_image(worker, agreement_id, secret, image, info, options);
}

Result<SendStats> send_image(const Endpoint& worker, const std::string& agreement_id, const Secret& secret,
                             const std::filesystem::path& image, const ImageInfo& info, const SendOptions& options) {
    const auto started = Clock::now();
    SendStats stats;
    proto::Hello hello;
    hello.agreement_id = agreement_id;
    hello.config_digest = info.config_digest;
    hello.config = info.config;
    if (options.spec) {
        ZP_CHECK(proto::check_spec(*options.spec));
        hello.spec = options.spec;
    }
    Progress progress;
    std::vector<std::size_t> slot(info.layers.size());
    std::map<Digest, std::size_t> first;
    for (std::size_t i = 0; i < info.layers.size(); ++i) {
        hello.layers.push_back({info.layers[i].diff_id, info.layers[i].size});
        auto [it, fresh] = first.emplace(info.layers[i].diff_id, progress.layers.size());
        if (fresh) {
            progress.layers.push_back({info.layers[i].diff_id, info.layers[i].size, 0, LayerProgress::State::waiting});
            progress.bytes_total += info.layers[i].size;
        }
        slot[i] = it->second;
    }
    stats.image_bytes = progress.bytes_total;
    const auto hello_frame = proto::encode(hello);

    std::optional<Error> last_error;
    for (int attempt = 1; attempt <= std::max(1, options.max_attempts); ++attempt) {
        stats.attempts = attempt;
        progress.attempt = attempt;
        if (attempt > 1) std::this_thread::sleep_for(options.retry_delay);
        // Each failed attempt is told at once (the caller shows it), not only after the last.
        const auto attempt_failed = [&](const Error& e, std::string_view where) {
            last_error = e;
            progress.error = std::string{where} + e.message() + " (attempt " + std::to_string(attempt) + " of " +
                             std::to_string(std::max(1, options.max_attempts)) + ")";
            if (options.progress) options.progress(progress);
        };
        auto conn_r = TlsConnection::connect(worker, agreement_id, secret, options.io_timeout, options.connect_timeout);
        if (!conn_r) {
            if (conn_r.error().code() == Errc::auth_failed) return conn_r.error();
            attempt_failed(conn_r.error(), "");  // it names the address
            continue;
        }
        auto& conn = **conn_r;
        if (attempt == 1 && options.test_drop_after_bytes != 0) conn.set_drop_after(options.test_drop_after_bytes);
        auto run = [&]() -> Result<void> {
            ZP_CHECK(conn.write_all(hello_frame));
            auto reply = ZP_TRY(read_message(conn));
            if (auto* s = std::get_if<proto::Status>(&reply)) {
                if (!s->ok) return s->to_error();
                return Error{Errc::protocol, "the worker answered HELLO with an empty STATUS"};
            }
            auto* offer = std::get_if<proto::Offer>(&reply);
            if (offer == nullptr || offer->offsets.size() != info.layers.size())
                return Error{Errc::protocol, "the worker's OFFER does not match the image"};
            std::vector<bool> wanted(info.layers.size(), false);
            std::set<Digest> seen;
            std::uint64_t done_at_start = 0;
            stats.layers_skipped = 0;
            for (std::size_t i = 0; i < info.layers.size(); ++i) {
                auto& lp = progress.layers[slot[i]];
                if (!seen.insert(info.layers[i].diff_id).second) continue;
                auto off = offer->offsets[i];
                if (off > info.layers[i].size)
                    return Error{Errc::protocol, "the worker offered an offset beyond a layer"};
                if (off == info.layers[i].size) {
                    if (lp.state != LayerProgress::State::pushed) lp.state = LayerProgress::State::exists;
                    lp.done = lp.size;
                    ++stats.layers_skipped;
                } else {
                    wanted[i] = true;
                    lp.done = off;
                }
                done_at_start += lp.done;
            }
            Sender sender{conn, info, offer->offsets, options, progress, slot, stats, Clock::now(), done_at_start};
            if (options.progress) options.progress(progress);
            ZP_CHECK(stream_layers(image, info, wanted, sender, options.limits));
            ZP_CHECK(conn.write_all(proto::encode(proto::Done{})));
            auto final_msg = ZP_TRY(read_message(conn));
            auto* s = std::get_if<proto::Status>(&final_msg);
            if (s == nullptr) return Error{Errc::protocol, "expected the worker's final STATUS"};
            if (!s->ok) return s->to_error();
            conn.close();
            return {};
        };
        auto r = run();
        stats.wire_bytes += conn.transport_bytes();
        if (r) {
            stats.seconds = std::chrono::duration<double>(Clock::now() - started).count();
            progress.finished = true;
            progress.error.clear();
            progress.bytes_done = progress.bytes_total;
            progress.wire_bytes = stats.wire_bytes;
            progress.eta_seconds = 0;
            if (options.progress) options.progress(progress);
            return stats;
        }
        if (r.error().code() != Errc::io && r.error().code() != Errc::timeout) return r.error();
        attempt_failed(r.error(), "transfer to " + worker.host + ":" + std::to_string(worker.port) + ": ");
    }
    return last_error->wrap("transfer to " + worker.host + ":" + std::to_string(worker.port) + " failed after " +
                            std::to_string(stats.attempts) + " attempts");
}

}  // namespace zeppelin::transfer
