// Protocol v2's formats off the contract's ABI, shared by every party's node:
//   * the salted probe-spec commit a purchase carries: keccak256(salt ‖ keccak256(spec)),
//   * multi-recipient messages: one ECIES envelope per recipient bit (bit 0 client, bit 1 worker,
//     bit 2+i verifier i), in bit order, each prefixed by its 2-byte big-endian length,
//   * the report calendar (batches of kBatchPeriods periods, reported after the batch's last
//     billable period ended and before the report window closes) and the report words of a
//     batch (bit i of word j = period batch·kBatchPeriods + j·kWordPeriods + i; voted ∖ ok =
//     failed; a clear voted bit = abstention, "no vote").
// Pure functions, no I/O (unit-tested in protocol_v2_test.cpp against the contract's rules).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "zeppelin/core/bytes.hpp"
#include "zeppelin/core/result.hpp"
#include "zeppelin/core/u256.hpp"
#include "zeppelin/market/dispatcher_v2.hpp"

namespace zeppelin::market::v2 {

/// keccak256(salt ‖ keccak256(spec)): what buyContract commits and rejectSpec reveals.
Hash32 spec_commit(ByteView spec, const Hash32& salt);

// ------------------------------------------------------------------------------ messages

inline constexpr std::uint64_t kClientBit = 1;
inline constexpr std::uint64_t kWorkerBit = 2;
/// The recipient bit of verifier `index` (its position in the agreement's verifier list).
constexpr std::uint64_t verifier_bit(std::size_t index) noexcept { return std::uint64_t{4} << index; }
/// Every verifier of an agreement with `n` verifiers.
constexpr std::uint64_t all_verifiers(std::size_t n) noexcept { return ((std::uint64_t{1} << n) - 1) << 2; }

/// Length-prefixed envelopes, in order. Errc::invalid_argument for an envelope over
/// kMaxEnvelopeBytes (the contract's limit per recipient) or an empty one.
Result<Bytes> pack_envelopes(const std::vector<Bytes>& envelopes);
/// The envelopes of a message, strictly: every length prefix inside the data, nothing left over.
Result<std::vector<Bytes>> unpack_envelopes(ByteView packed);
/// The envelope addressed to `bit` in a message to `recipients`; nullopt when `bit` is not a
/// recipient; an error when the message is malformed or has fewer envelopes than recipients.
Result<std::optional<Bytes>> envelope_for(std::uint64_t recipients, std::uint64_t bit, ByteView packed);

// ------------------------------------------------------------------------------ reports

/// Batches of an agreement with `billable` billable periods.
constexpr std::uint64_t batch_count(std::uint64_t billable) noexcept {
    return (billable + kBatchPeriods - 1) / kBatchPeriods;
}
/// One past the last period of `batch` (capped at `billable`).
constexpr std::uint64_t batch_end(std::uint64_t batch, std::uint64_t billable) noexcept {
    const auto end = (batch + 1) * kBatchPeriods;
    return end < billable ? end : billable;
}
/// The first second a report of `batch` is accepted: the end of its last billable period.
constexpr std::uint64_t report_opens_at(std::uint64_t started_at, std::uint32_t period_seconds, std::uint64_t billable,
                                        std::uint64_t batch) noexcept {
    return started_at + batch_end(batch, billable) * period_seconds;
}
/// The first second a report of `batch` is refused (ReportTooLate).
constexpr std::uint64_t report_closes_at(std::uint64_t started_at, std::uint32_t period_seconds, std::uint64_t billable,
                                         std::uint64_t batch, std::uint32_t report_window) noexcept {
    return report_opens_at(started_at, period_seconds, billable, batch) + report_window;
}

/// What a verifier says of one period.
enum class Vote : std::uint8_t { abstain = 0, ok, failed };

/// A verifier's report of one batch: `confirm` (every period ok: confirmBatch, one bit of
/// storage) or the words of submitReport.
struct BatchReport {
    bool confirm{false};
    std::vector<u256> ok_words;
    std::vector<u256> voted_words;
    std::uint64_t ok{0}, failed{0}, abstained{0};
};
/// The report of `batch` of an agreement with `billable` periods, from the vote on each period
/// (called with the absolute period index). Never more words than the contract expects.
BatchReport report_batch(std::uint64_t batch, std::uint64_t billable, const std::function<Vote(std::uint64_t)>& vote);

}  // namespace zeppelin::market::v2
