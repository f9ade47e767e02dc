#include "zeppelin/market/protocol_v2.hpp"

#include <bit>
#include <string>

#include "zeppelin/eth/keccak.hpp"

namespace zeppelin::market::v2 {

Hash32 spec_commit(ByteView spec, const Hash32& salt) {
    const Hash32 inner = eth::keccak256(spec);
    Bytes buf(salt.begin(), salt.end());
    buf.insert(buf.end(), inner.begin(), inner.end());
    return eth::keccak256(buf);
}

Result<Bytes> pack_envelopes(const std::vector<Bytes>& envelopes) {
    Bytes out;
    for (std::size_t i = 0; i < envelopes.size(); ++i) {
        const auto n = envelopes[i].size();
        if (n == 0) return Error{Errc::invalid_argument, "envelope " + std::to_string(i) + " is empty"};
        if (n > kMaxEnvelopeBytes)
            return Error{Errc::invalid_argument, "envelope " + std::to_string(i) + " is " + std::to_string(n) +
                                                     " bytes; a recipient gets at most " +
                                                     std::to_string(kMaxEnvelopeBytes)};
        out.push_back(static_cast<std::uint8_t>(n >> 8));
        out.push_back(static_cast<std::uint8_t>(n & 0xff));
        out.insert(out.end(), envelopes[i].begin(), envelopes[i].end());
    }
    return out;
}

Result<std::vector<Bytes>> unpack_envelopes(ByteView packed) {
    std::vector<Bytes> out;
    std::size_t at = 0;
    while (at < packed.size()) {
        if (packed.size() - at < 2)
            return Error{Errc::invalid_argument, "message cut short: a length prefix at byte " + std::to_string(at) +
                                                     " of " + std::to_string(packed.size())};
        const std::size_t n = (std::size_t{packed[at]} << 8) | packed[at + 1];
        at += 2;
        if (n == 0 || n > packed.size() - at)
            return Error{Errc::invalid_argument, "envelope " + std::to_string(out.size()) + " claims " +
                                                     std::to_string(n) + " bytes; " + std::to_string(packed.size() - at) +
                                                     " are left"};
        out.emplace_back(packed.begin() + static_cast<std::ptrdiff_t>(at),
                         packed.begin() + static_cast<std::ptrdiff_t>(at + n));
        at += n;
    }
    return out;
}

Result<std::optional<Bytes>> envelope_for(std::uint64_t recipients, std::uint64_t bit, ByteView packed) {
    if (bit == 0 || (recipients & bit) == 0) return std::optional<Bytes>{};
    auto all = ZP_TRY(unpack_envelopes(packed));
    const auto want = static_cast<std::size_t>(std::popcount(recipients));
    if (all.size() != want)
        return Error{Errc::invalid_argument, "the message has " + std::to_string(all.size()) + " envelopes for " +
                                                 std::to_string(want) + " recipients"};
    const auto index = static_cast<std::size_t>(std::popcount(recipients & (bit - 1)));
    return std::optional<Bytes>{std::move(all[index])};
}

BatchReport report_batch(std::uint64_t batch, std::uint64_t billable, const std::function<Vote(std::uint64_t)>& vote) {
    BatchReport r;
    const auto first = batch * kBatchPeriods;
    const auto end = batch_end(batch, billable);
    if (first >= end) return r;
    const auto words = (end - first + kWordPeriods - 1) / kWordPeriods;
    r.ok_words.assign(words, u256{0});
    r.voted_words.assign(words, u256{0});
    for (auto p = first; p < end; ++p) {
        const auto w = (p - first) / kWordPeriods;
        const auto bit = static_cast<unsigned>((p - first) % kWordPeriods);
        switch (vote(p)) {
            case Vote::ok:
                r.ok_words[w] |= u256{1} << bit;
                r.voted_words[w] |= u256{1} << bit;
                ++r.ok;
                break;
            case Vote::failed:
                r.voted_words[w] |= u256{1} << bit;
                ++r.failed;
                break;
            case Vote::abstain: ++r.abstained; break;
        }
    }
    r.confirm = r.failed == 0 && r.abstained == 0;
    return r;
}

}  // namespace zeppelin::market::v2
