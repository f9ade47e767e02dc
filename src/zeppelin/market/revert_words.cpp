#include "zeppelin/market/revert_words.hpp"

#include <array>
#include <ctime>
#include <functional>

#include <fmt/core.h>

#include "zeppelin/core/hex.hpp"
#include "zeppelin/core/units.hpp"
#include "zeppelin/eth/address.hpp"

namespace zeppelin::market {
namespace {

/// The arguments of one revert, read by position.
class Args {
public:
    explicit Args(const eth::Revert& r) : r_{r} {}

    [[nodiscard]] u256 num(std::size_t i) const { return i < r_.args.size() ? r_.args[i].number : u256{0}; }
    [[nodiscard]] std::string n(std::size_t i) const { return to_dec(num(i)); }
    [[nodiscard]] std::string hex(std::size_t i) const { return to_hex_quantity(num(i)); }
    [[nodiscard]] std::string wei(std::size_t i) const { return format_amount(num(i)); }
    [[nodiscard]] std::string addr(std::size_t i) const {
        if (i >= r_.args.size() || r_.args[i].data.size() != 20) return "an account";
        Address a{};
        std::copy(r_.args[i].data.begin(), r_.args[i].data.end(), a.begin());
        return eth::to_checksum(a);
    }
    [[nodiscard]] std::string bytes(std::size_t i) const {
        return i < r_.args.size() ? to_hex(r_.args[i].data) : std::string{"0x"};
    }
    /// A unix time as "2026-12-07 18:00:00 UTC".
    [[nodiscard]] std::string time(std::size_t i) const {
        const auto v = num(i);
        if (v > u256{0xffffffffffULL}) return "unix time " + to_dec(v);
        const auto t = static_cast<std::time_t>(static_cast<std::uint64_t>(v));
        std::tm tm{};
        gmtime_r(&t, &tm);
        char buf[32];
        std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
        return buf;
    }

private:
    const eth::Revert& r_;
};

// The status enums and InvalidRequirements' codes of contracts/src/v2/IWorkerDispatcherV2.sol and
// WorkerDispatcherV2._checkRequirements.
std::string worker_status(const u256& s) {
    static constexpr std::array names{"not registered", "active", "paused", "unregistering"};
    return s < names.size() ? names[static_cast<std::size_t>(s)] : "in status " + to_dec(s);
}

std::string agreement_status(const u256& s) {
    static constexpr std::array names{"unknown", "purchased (its worker is not drawn yet)",
                                      "assigned (waiting for the worker to accept)",
                                      "accepted (waiting for the service to start)",
                                      "starting (its verifiers are not drawn yet)", "running", "settled",
                                      "ended before it ran"};
    return s < names.size() ? names[static_cast<std::size_t>(s)] : "in status " + to_dec(s);
}

std::string invalid_requirements(const Args& a) {
    const auto code = a.num(0);
    switch (static_cast<unsigned>(code > 99 ? 99 : code)) {
        case 1: return "the duration must not be 0 and must be a whole number of periods";
        case 2: return "the period must be at least 10 s";
        case 3: return "the agreement has more than 10080 periods: use a longer period or a shorter duration";
        case 4: return "the highest price per second must not be 0";
        case 5: return "the number of verifiers must be odd and from 3 to 5 (3 or 5)";
        case 6: return "the probe specification's commitment is missing";
        default: break;
    }
    return "the requirements break rule " + to_dec(code) + " of the contract";
}

using Words = std::function<std::string(const Args&)>;
struct Sentence {
    std::string_view name;
    Words words;
};

const std::vector<Sentence>& sentences() {
    static const std::vector<Sentence> all{
        // registration
        {"InvalidConfig", [](const Args&) { return std::string{"the contract's configuration is invalid (a window, fee or stake of 0 or out of range)"}; }},
        {"StakeTooLow", [](const Args& a) {
             return fmt::format("the stake sent, {}, is below the minimum of {}: send at least {}", a.wei(0), a.wei(1), a.wei(1));
         }},
        {"AlreadyRegistered", [](const Args& a) {
             return fmt::format("account {} is already registered as worker {}: change its offer instead", a.addr(0), a.n(1));
         }},
        {"NotRegistered", [](const Args& a) { return fmt::format("account {} is not a registered worker", a.addr(0)); }},
        {"InvalidPublicKey", [](const Args& a) {
             return fmt::format("the encryption key is {} bytes long; it must be 64 (an uncompressed secp256k1 key without its prefix)", a.n(0));
         }},
        {"InvalidOffer", [](const Args& a) {
             return fmt::format("an offer needs a price, a longest duration, CPU and memory all above 0; it had {}/s, {} s, {} millicores, {} MB",
                                a.wei(0), a.n(1), a.n(2), a.n(3));
         }},
        {"InvalidWorkerStatus", [](const Args& a) {
             return fmt::format("worker {} is {}, which does not allow this", a.n(0), worker_status(a.num(1)));
         }},
        {"CoolDownNotOver", [](const Args& a) {
             return fmt::format("worker {}'s cool-down lasts until {}: its stake can be withdrawn after that", a.n(0), a.time(1));
         }},
        {"StakeLocked", [](const Args& a) {
             return fmt::format("{} of worker {}'s stake is locked by its open agreements: wait until they end", a.wei(1), a.n(0));
         }},
        // buying
        {"InvalidRequirements", Words{invalid_requirements}},
        {"WrongPayment", [](const Args& a) {
             return fmt::format("the payment sent, {}, is not the escrow the agreement needs, {} ({} wei)", a.wei(0), a.wei(1), a.n(1));
         }},
        {"AgreementTooSmall", [](const Args& a) {
             return fmt::format("the verifiers would earn {} in all, below the minimum of {}: raise the price or the duration",
                                a.wei(0), a.wei(1));
         }},
        // agreements
        {"UnknownAgreement", [](const Args& a) { return fmt::format("agreement {} does not exist on this chain", a.n(0)); }},
        {"InvalidAgreementStatus", [](const Args& a) {
             return fmt::format("agreement {} is {}, which does not allow this", a.n(0), agreement_status(a.num(1)));
         }},
        {"DrawNotReady", [](const Args& a) {
             return fmt::format("agreement {}'s draw uses the hash of block {}, which is not mined yet: try again after it", a.n(0), a.n(1));
         }},
        {"NotWorker", [](const Args& a) { return fmt::format("{} is not the worker of agreement {}", a.addr(1), a.n(0)); }},
        {"NotClient", [](const Args& a) { return fmt::format("{} is not the client of agreement {}", a.addr(1), a.n(0)); }},
        {"NotVerifier", [](const Args& a) { return fmt::format("{} is not a verifier of agreement {}", a.addr(1), a.n(0)); }},
        {"NotParty", [](const Args& a) {
             return fmt::format("{} takes no part in agreement {} (neither its client, worker nor verifier)", a.addr(1), a.n(0));
         }},
        {"InvalidRecipients", [](const Args& a) {
             return fmt::format("a message of agreement {} names {} recipient(s), which are not the agreement's parties", a.n(0), a.n(1));
         }},
        {"MessageTooLarge", [](const Args& a) {
             return fmt::format("the message is {} bytes, above the limit of {} bytes", a.n(0), a.n(1));
         }},
        {"AgreementClosed", [](const Args& a) { return fmt::format("agreement {} is closed: it takes no more messages or actions", a.n(0)); }},
        {"DeadlineNotPassed", [](const Args& a) {
             return fmt::format("agreement {}'s deadline is {}: this is possible only after it", a.n(0), a.time(1));
         }},
        {"DeadlinePassed", [](const Args& a) {
             return fmt::format("agreement {}'s deadline passed at {}: it is too late for this", a.n(0), a.time(1));
         }},
        {"SpecMismatch", [](const Args& a) {
             return fmt::format("the probe specification revealed for agreement {} hashes to {}, not the {} committed at purchase",
                                a.n(0), a.bytes(1), a.bytes(2));
         }},
        // verification
        {"InvalidReport", [](const Args& a) {
             return fmt::format("word {} of a report marks periods confirmed that it does not vote on (confirmed bits {}, voted bits {})",
                                a.n(0), a.hex(1), a.hex(2));
         }},
        {"WrongWordCount", [](const Args& a) {
             return fmt::format("the report of batch {} has {} word(s) of periods; it needs {}", a.n(0), a.n(1), a.n(2));
         }},
        {"BatchOutOfRange", [](const Args& a) {
             return fmt::format("batch {} does not exist: the agreement has {} batch(es), numbered from 0", a.n(0), a.n(1));
         }},
        {"ReportTooEarly", [](const Args& a) {
             return fmt::format("batch {} can be reported from {}, after its periods ended", a.n(0), a.time(1));
         }},
        {"ReportTooLate", [](const Args& a) {
             return fmt::format("the report window of batch {} closed at {}", a.n(0), a.time(1));
         }},
        {"AlreadyReported", [](const Args& a) {
             return fmt::format("verifier {} already reported batch {} of agreement {}", a.n(2), a.n(1), a.n(0));
         }},
        // payments
        {"SettlementTooEarly", [](const Args& a) {
             return fmt::format("agreement {} can be settled from {}, when its report window has closed", a.n(0), a.time(1));
         }},
        {"NothingToWithdraw", [](const Args& a) { return fmt::format("account {} has nothing to withdraw", a.addr(0)); }},
        {"TransferFailed", [](const Args& a) {
             return fmt::format("sending {} to {} failed (the receiving contract refused it)", a.wei(1), a.addr(0));
         }},
        {"Reentrancy", [](const Args&) { return std::string{"the contract was called again from inside a call (reentrancy), which it refuses"}; }},
    };
    return all;
}

}  // namespace

std::optional<std::string> revert_sentence(const eth::Revert& revert) {
    if (revert.kind != eth::Revert::Kind::custom) return std::nullopt;
    for (const auto& s : sentences())
        if (s.name == revert.error_name) return s.words(Args{revert});
    return std::nullopt;
}

std::string explain_revert(const eth::Revert& revert) {
    if (auto s = revert_sentence(revert)) return *s + " [" + revert.text + "]";
    return revert.text;
}

std::vector<std::string_view> explained_errors() {
    std::vector<std::string_view> out;
    for (const auto& s : sentences()) out.push_back(s.name);
    return out;
}

}  // namespace zeppelin::market
