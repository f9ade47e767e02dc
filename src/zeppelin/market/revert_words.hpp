// Every custom error the dispatcher contracts can raise, as a sentence for people: what went
// wrong, with its arguments in words and numbers (amounts in the one formatter, times as UTC),
// and what to do when there is something to do.
//
//   revert_sentence(decode_revert(data))
//     NoEligibleWorker(activeWorkers: 3)
//       -> "no active worker fits the requirements (3 workers are active): raise the highest price
//           or ask for fewer resources or a shorter duration (`zeppelin market workers` lists the offers)"
//
// The two protocol versions share most errors; where they differ (InvalidRequirements' codes,
// the status enums) the sentence follows the version. Tests enumerate each version's ABI and fail
// for an error without a sentence (revert_words_test in market_test.cpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "zeppelin/eth/revert.hpp"

namespace zeppelin::market {

/// Which contract raised the error: contracts/src/WorkerDispatcher.sol (v1) or
/// contracts/src/v2/IWorkerDispatcherV2.sol (v2).
enum class Protocol : std::uint8_t { v1, v2 };

/// The sentence for a decoded custom error; nullopt for an error of no known name (or a revert
/// that is not a custom error).
std::optional<std::string> revert_sentence(const eth::Revert& revert, Protocol protocol = Protocol::v1);

/// The sentence and, after it, the error as the contract raised it:
/// "no active worker fits ... [NoEligibleWorker(activeWorkers: 3)]"; the decoder's text when
/// there is no sentence.
std::string explain_revert(const eth::Revert& revert, Protocol protocol = Protocol::v1);

/// The names of every error that has a sentence in `protocol`.
std::vector<std::string_view> explained_errors(Protocol protocol);

}  // namespace zeppelin::market
