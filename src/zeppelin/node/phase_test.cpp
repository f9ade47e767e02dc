#include "zeppelin/node/phase.hpp"

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace zeppelin::node {
namespace {

constexpr Phase kAll[] = {Phase::assigned,          Phase::waiting_for_acceptance, Phase::waiting_for_worker,
                          Phase::transferring,      Phase::waiting_for_service,    Phase::starting,
                          Phase::accepted,          Phase::waiting_for_image,      Phase::image_refused,
                          Phase::starting_work,     Phase::waiting_for_start,      Phase::verifying,
                          Phase::running,           Phase::cancelled,              Phase::done};

TEST(Phase, ValuesAreDistinctMachineWordsAndRoundTrip) {
    std::set<std::string_view> values;
    for (const auto p : kAll) {
        const auto v = phase_value(p);
        EXPECT_TRUE(values.insert(v).second) << v;
        EXPECT_EQ(v.find(' '), std::string_view::npos) << v;
        EXPECT_EQ(parse_phase(v), p);
        EXPECT_EQ(parse_phase(phase_label(p)), p) << "a store written with labels is still read";
    }
}

TEST(Phase, UnknownTextIsNoPhase) {
    EXPECT_FALSE(parse_phase(""));
    EXPECT_FALSE(parse_phase("Running"));
    EXPECT_FALSE(parse_phase("waiting"));
}

TEST(Phase, OnlyDoneIsFinal) {
    for (const auto p : kAll) EXPECT_EQ(is_final(p), p == Phase::done) << phase_value(p);
}

}  // namespace
}  // namespace zeppelin::node
