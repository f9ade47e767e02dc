#include "zeppelin/runtime/work.hpp"

#include <gtest/gtest.h>

namespace zeppelin::runtime {
namespace {

WorkSpec sample() {
    WorkSpec s;
    s.agreement_id = "42";
    s.worker_id = "w1";
    s.image = "sha256:3d6fd17486ecc848f9422bc442dc56046e0b11c4947b24c9dad6dd7203687ba0";
    s.memory_bytes = 64u * 1024u * 1024u;
    s.nano_cpus = 500'000'000;
    s.pids_limit = 64;
    s.container_port = 8080;
    s.host_port = 18080;
    s.host_ip = "0.0.0.0";
    s.restart = RestartPolicy::on_failure;
    s.restart_max_retries = 3;
    return s;
}

TEST(WorkSpec, CreateBodyCarriesEveryLimit) {
    auto body = build_create_body(sample());
    ASSERT_TRUE(body) << body.error().message();
    const auto& j = *body;
    EXPECT_EQ(j["Image"], sample().image);
    EXPECT_EQ(j["Tty"], false);
    EXPECT_TRUE(j["ExposedPorts"].contains("8080/tcp"));
    EXPECT_FALSE(j.contains("Cmd"));  // the image's own command
    const auto& h = j["HostConfig"];
    EXPECT_EQ(h["Memory"], 67108864);
    EXPECT_EQ(h["MemorySwap"], 67108864);  // no swap
    EXPECT_EQ(h["NanoCpus"], 500000000);
    EXPECT_EQ(h["PidsLimit"], 64);
    EXPECT_EQ(h["CapDrop"], nlohmann::json::array({"ALL"}));
    EXPECT_EQ(h["SecurityOpt"], nlohmann::json::array({"no-new-privileges"}));
    EXPECT_EQ(h["Privileged"], false);
    ASSERT_EQ(h["Ulimits"].size(), 2u);
    EXPECT_EQ(h["Ulimits"][0], (nlohmann::json{{"Name", "nofile"}, {"Soft", 1024}, {"Hard", 1024}}));
    EXPECT_EQ(h["Ulimits"][1]["Name"], "nproc");
    EXPECT_EQ(h["PortBindings"]["8080/tcp"][0]["HostIp"], "");  // all interfaces (see work.cpp)
    EXPECT_EQ(h["PortBindings"]["8080/tcp"][0]["HostPort"], "18080");
    EXPECT_EQ(h["RestartPolicy"]["Name"], "on-failure");
    EXPECT_EQ(h["RestartPolicy"]["MaximumRetryCount"], 3);
    EXPECT_EQ(j["Labels"]["io.zeppelin.agreement"], "42");
    EXPECT_EQ(j["Labels"]["io.zeppelin.worker"], "w1");
    EXPECT_EQ(j["Labels"]["io.zeppelin.managed"], "1");
    EXPECT_EQ(container_name(sample()), "zeppelin-w1-42");
}

TEST(WorkSpec, AnyHostPortAndCommand) {
    auto s = sample();
    s.host_port = 0;
    s.host_ip = "127.0.0.1";
    s.cmd = {"/bin/busybox", "sleep", "1"};
    s.env = {"A=1"};
    s.restart = RestartPolicy::no;
    s.worker_id.clear();
    auto body = build_create_body(s);
    ASSERT_TRUE(body);
    EXPECT_EQ((*body)["HostConfig"]["PortBindings"]["8080/tcp"][0]["HostPort"], "");
    EXPECT_EQ((*body)["HostConfig"]["PortBindings"]["8080/tcp"][0]["HostIp"], "127.0.0.1");
    EXPECT_EQ((*body)["Cmd"], nlohmann::json::array({"/bin/busybox", "sleep", "1"}));
    EXPECT_EQ((*body)["Env"], nlohmann::json::array({"A=1"}));
    EXPECT_EQ((*body)["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 0);
    EXPECT_FALSE((*body)["Labels"].contains("io.zeppelin.worker"));
    EXPECT_EQ(container_name(s), "zeppelin-42");
}

TEST(WorkSpec, ValidationNamesTheProblem) {
    auto expect_invalid = [](WorkSpec s, std::string_view needle) {
        auto r = build_create_body(s);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code(), Errc::invalid_argument);
        EXPECT_NE(r.error().message().find(needle), std::string::npos) << r.error().message();
    };
    auto s = sample();
    s.agreement_id = "../x";
    expect_invalid(s, "agreement id");
    s = sample();
    s.agreement_id.clear();
    expect_invalid(s, "agreement id");
    s = sample();
    s.image.clear();
    expect_invalid(s, "no image");
    s = sample();
    s.memory_bytes = 1024;
    expect_invalid(s, "memory limit");
    s = sample();
    s.pids_limit = 0;
    expect_invalid(s, "pids limit");
    s = sample();
    s.nofile = {2048, 1024};
    expect_invalid(s, "ulimit nofile");
    s = sample();
    s.container_port = 0;
    expect_invalid(s, "service port");
    s = sample();
    s.host_ip = "localhost";
    expect_invalid(s, "not an IP address");
    s = sample();
    s.extra_labels["io.zeppelin.agreement"] = "99";
    expect_invalid(s, "reserved");
    s = sample();
    s.env = {"NOEQUALS"};
    expect_invalid(s, "KEY=value");
}

TEST(RestartPolicy, RoundTrip) {
    for (auto p : {RestartPolicy::no, RestartPolicy::on_failure, RestartPolicy::unless_stopped, RestartPolicy::always})
        EXPECT_EQ(*parse_restart_policy(to_string(p)), p);
    EXPECT_FALSE(parse_restart_policy("sometimes"));
}

}  // namespace
}  // namespace zeppelin::runtime
