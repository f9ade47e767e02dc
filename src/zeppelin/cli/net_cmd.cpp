// `zeppelin net check`: can this host open its own ports on the router in front of it? Finds the
// gateway (UPnP IGD, then NAT-PMP, then PCP), prints its external address, and tries a short test mapping
// of a port this command listens on, removed again at once. Exit status 0 when a mapping was
// granted or the host has a public address of its own (no mapping needed), 1 when the host
// cannot be reached, with the reason and what to do in words.
//
// It checks what the router grants, not that the internet reaches the port: that needs a second
// host (tests/netlab does it with a client on the lab's public segment).
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "zeppelin/cli/commands.hpp"
#include "zeppelin/cli/common.hpp"
#include "zeppelin/portmap/portmap.hpp"

namespace zeppelin::cli {
namespace {

using namespace std::chrono_literals;

struct NetCheckOptions {
    unsigned timeout_ms{2000};
    bool no_upnp{false};
    bool no_natpmp{false};
    bool no_pcp{false};
    unsigned lease{60};
    bool json{false};
};

/// What a person can do about each way of failing.
std::string advice(Errc code) {
    switch (code) {
        case Errc::no_gateway:
            return "no router here maps ports (UPnP IGD and NAT-PMP are off or absent): enable one of them on the router, "
                   "or forward the ports by hand and run the node with --public-host";
        case Errc::double_nat:
            return "the router is itself behind another NAT (e.g. the provider's carrier-grade NAT): a mapping on it does "
                   "not make this host reachable; run the worker on a host with a public address, or forward on the outer "
                   "router and use --public-host";
        case Errc::mapping_refused:
            return "the router refused the mapping (port taken, not allowed, or its table is full): check its UPnP/NAT-PMP "
                   "settings, or forward the ports by hand and use --public-host";
        default: return "the router answered in a way this check does not understand; see the message above";
    }
}

/// A TCP socket on an ephemeral port, so the test mapping points at something real.
struct Listener {
    int fd{-1};
    std::uint16_t port{0};
    Listener() {
        fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        socklen_t len = sizeof a;
        if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 1) != 0 ||
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
            fail(Errc::io, "cannot open a local TCP port for the test mapping");
        port = ntohs(a.sin_port);
    }
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;
    ~Listener() {
        if (fd >= 0) ::close(fd);
    }
};

int run_check(const NetCheckOptions& o) {
    const bool json = o.json || global_options().json;
    portmap::DiscoverOptions d;
    d.timeout = std::chrono::milliseconds{o.timeout_ms};
    d.upnp = !o.no_upnp;
    d.natpmp = !o.no_natpmp;
    d.pcp = !o.no_pcp;
    nlohmann::json out;
    const std::string node_id = "netcheck-" + std::to_string(::getpid());

    auto pm = portmap::PortMapper::discover(node_id, d);
    if (!pm) {
        const auto& e = pm.error();
        // A host with a public address of its own needs no mapping.
        const auto publics = portmap::public_local_addresses();
        const std::string result =
            publics.empty()
                ? "no port mapping possible: " + advice(e.code())
                : "no port mapping possible, and none needed: this host has the public address " + publics.front() +
                      "; a worker here is reachable there if its firewall lets the ports in";
        if (json) {
            out = {{"gateway", nullptr},
                   {"mapping_possible", false},
                   {"public_addresses", publics},
                   {"error", std::string{to_string(e.code())}},
                   {"reason", e.message()},
                   {"result", result}};
            if (publics.empty()) out["advice"] = advice(e.code());
            fmt::print("{}\n", out.dump(2));
        } else {
            fmt::print("gateway: none usable\n{}\n", e.message());
            fmt::print("result: {}\n", result);
        }
        return publics.empty() ? 1 : 0;
    }
    const auto& gw = pm->gateway();
    out["gateway"] = {{"protocol", std::string{to_string(gw.method)}},
                      {"address", gw.address},
                      {"local_address", gw.local_address},
                      {"external_address", gw.external_address},
                      {"detail", gw.detail}};
    if (!json) {
        fmt::print("gateway: {} at {} ({})\n", to_string(gw.method), gw.address, gw.detail);
        fmt::print("local address: {}\n", gw.local_address);
        fmt::print("external address: {}\n", gw.external_address);
    }

    Listener listener;
    auto m = pm->map({portmap::Protocol::tcp, listener.port, 0, std::chrono::seconds{o.lease}, "check"});
    if (!m) {
        const auto& e = m.error();
        out["mapping_possible"] = false;
        out["error"] = std::string{to_string(e.code())};
        out["reason"] = e.message();
        out["advice"] = advice(e.code());
        if (json) {
            fmt::print("{}\n", out.dump(2));
        } else {
            fmt::print("test mapping: refused: {}\n", e.message());
            fmt::print("result: no port mapping possible: {}\n", advice(e.code()));
        }
        return 1;
    }
    auto removed = pm->unmap(*m);
    out["mapping_possible"] = true;
    out["test_mapping"] = {{"protocol", "TCP"},
                           {"external", fmt::format("{}:{}", m->external_address, m->external_port)},
                           {"internal", fmt::format("{}:{}", m->internal_address, m->internal_port)},
                           {"lease_seconds", m->lease.count()},
                           {"removed", removed.has_value()}};
    if (!removed) out["test_mapping"]["remove_error"] = removed.error().message();
    if (json) {
        fmt::print("{}\n", out.dump(2));
    } else {
        fmt::print("test mapping: TCP {}:{} -> {}:{} granted for {} s, {}\n", m->external_address, m->external_port,
                   m->internal_address, m->internal_port, m->lease.count(),
                   removed ? "removed again" : "NOT removed (" + removed.error().message() + ")");
        fmt::print("result: this host can open its own ports through {}; a worker here is reachable at {}\n",
                   to_string(gw.method), gw.external_address);
    }
    return 0;
}

}  // namespace

void add_net_commands(CLI::App& app) {
    auto* group = app.add_subcommand("net", "This host's network: can a worker here be reached from the internet?");
    group->require_subcommand(1);
    auto opts = std::make_shared<NetCheckOptions>();
    auto* check = group->add_subcommand(
        "check", "Find the router's UPnP IGD / NAT-PMP / PCP, its external address, and try a test port mapping");
    check->add_option("--timeout-ms", opts->timeout_ms, "Wait per protocol, in milliseconds")
        ->capture_default_str()
        ->check(CLI::Range(100U, 60000U));
    check->add_flag("--no-upnp", opts->no_upnp, "Do not try UPnP IGD");
    check->add_flag("--no-natpmp", opts->no_natpmp, "Do not try NAT-PMP");
    check->add_flag("--no-pcp", opts->no_pcp, "Do not try PCP (RFC 6887)");
    check->add_option("--lease", opts->lease, "Lease of the test mapping, in seconds")
        ->capture_default_str()
        ->check(CLI::Range(10U, 3600U));
    check->add_flag("--json", opts->json, "Print the result as JSON");
    check->callback([opts] {
        const int rc = run_check(*opts);
        if (rc != 0) throw CLI::RuntimeError(rc);
    });
}

}  // namespace zeppelin::cli
