// Every custom error the dispatcher contracts can raise, as a sentence for people: what went
// wrong, with its arguments in words and numbers (amounts in the one formatter, times as UTC),
// and what to do when there is something to do.
//
//   revert_sentence(v2::decode_revert(data))
//     AgreementTooSmall(verifierPay: 30000000000000, minimum: 100000000000000)
//       -> "the verifiers would earn 30000 gwei in all, below the minimum of 100000 gwei: raise the
//           price or the duration"
//
// The errors are those of contracts/src/v2/IWorkerDispatcherV2.sol; revert_words_test.cpp
// enumerates the embedded ABI and fails for an error without a sentence.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "zeppelin/eth/revert.hpp"

namespace zeppelin::market {

/// The sentence for a decoded custom error; nullopt for an error of no known name (or a revert
/// that is not a custom error).
std::optional<std::string> revert_sentence(const eth::Revert& revert);

/// The sentence and, after it, the error as the contract raised it:
/// "the verifiers would earn ... [AgreementTooSmall(verifierPay: 1, minimum: 2)]"; the decoder's text when
/// there is no sentence.
std::string explain_revert(const eth::Revert& revert);

/// The names of every error that has a sentence.
std::vector<std::string_view> explained_errors();

}  // namespace zeppelin::market
