// The typed agreement record: what the store writes reads back the same; rows written while the
// record was a free JSON document still read; keys of a newer version are kept; a wrong type is
// an error naming the field; the API's view never shows a secret.
#include "zeppelin/node/record.hpp"

#include <gtest/gtest.h>

namespace zeppelin::node {
namespace {

using json = nlohmann::json;

AgreementRecord full() {
    AgreementRecord r;
    r.last_error = "boom";
    r.lost_role = true;
    r.client_key = "0x04ab";
    r.spec = R"({"kind":"tcp"})";
    r.service = HostPort{"198.51.100.40", 40000};
    r.image_refused = "too big";
    r.image = "/tmp/i.tar";
    r.image_name = "web:1";
    r.image_digest = "sha256:" + std::string(64, 'a');
    r.submitted_ms = 1'700'000'000'123;
    r.transfer = OfferRecord{"198.51.100.40", 7000, {}, 7001, 3};
    r.transfer->secret.bytes.fill(0x22);
    r.transferred = true;
    r.transfer_stats = TransferStatsRecord{10, 8, 2, 1, 0.5};
    r.transfer_error = "connection refused";
    r.first_ok_ms = 1'700'000'001'000;
    r.stopped = true;
    r.secret = Hash32{};
    r.secret->bytes.fill(0x33);
    r.offered = "7000:7001";
    r.hello = true;
    r.pull_tried = true;
    r.received = ReceivedRecord{false, "7b7d", {"sha256:" + std::string(64, 'b')}};
    r.exposed_ports = {8080, 9090};
    r.planned_port = 41000;
    r.service_port = 41000;
    r.container = "c0ffee";
    r.announced = 41000;
    r.announced_host = "198.51.100.2";
    r.work_ended = true;
    r.reported_through = 12;
    return r;
}

TEST(Record, RoundTripsEveryField) {
    const auto r = full();
    EXPECT_EQ(record_from_json(json::parse(to_json(r).dump())).value(), r);
    EXPECT_EQ(record_from_json(to_json(AgreementRecord{})).value(), AgreementRecord{});
    EXPECT_EQ(to_json(AgreementRecord{}), json::object()) << "an empty record writes nothing";
}

TEST(Record, ReadsTheSpellingsOfTheUntypedDocument) {
    // What the node wrote before the record was typed (the same keys; `rejected` for the refusal).
    const auto client = record_from_json(json::parse(R"({"rejected":"layer 2 does not match","transferred":true,
        "transfer":{"host":"h","port":1,"secret":"0x)" + std::string(64, '1') + R"(","logs_port":2,"worker_id":4}})")).value();
    EXPECT_EQ(client.image_refused, "layer 2 does not match");
    EXPECT_EQ(client.transfer->worker_id, 4U);
    const auto worker = record_from_json(json::parse(R"({"rejected":true,"received":{"held":true},"service_port":8000})")).value();
    EXPECT_EQ(worker.image_refused, std::string{});
    EXPECT_TRUE(worker.received->held);
    EXPECT_EQ(worker.service_port, 8000);
    EXPECT_FALSE(record_from_json(json::parse(R"({"rejected":false})")).value().image_refused);
}

TEST(Record, KeepsKeysItDoesNotKnow) {
    const auto r = record_from_json(json::parse(R"({"container":"x","mapped_ports":{"transfer":7000}})")).value();
    EXPECT_EQ(r.extra["mapped_ports"]["transfer"], 7000);
    EXPECT_EQ(to_json(r)["mapped_ports"]["transfer"], 7000) << "written back, not dropped";
}

TEST(Record, NamesTheFieldOfAWrongType) {
    const auto bad = record_from_json(json::parse(R"({"service_port":"eight thousand"})"));
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message().find("service_port"), std::string::npos) << bad.error().message();
    const auto no_secret = record_from_json(json::parse(R"({"transfer":{"host":"h","port":1}})"));
    ASSERT_FALSE(no_secret);
    EXPECT_NE(no_secret.error().message().find("secret"), std::string::npos);
    EXPECT_FALSE(record_from_json(json::parse(R"({"secret":"0x12"})"))) << "a short secret";
    EXPECT_FALSE(record_from_json(json::array()));
}

TEST(Record, ThePublicViewHasNoSecret) {
    const auto j = public_json(full());
    EXPECT_FALSE(j.contains("secret"));
    EXPECT_FALSE(j["transfer"].contains("secret"));
    EXPECT_EQ(j["transfer"]["port"], 7000);
    EXPECT_EQ(j["service"]["host"], "198.51.100.40");
}

}  // namespace
}  // namespace zeppelin::node
