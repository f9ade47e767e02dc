#include "zeppelin/node/reachability.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>

#include <spdlog/spdlog.h>

#include "zeppelin/node/context.hpp"

namespace zeppelin::node {

using namespace std::chrono_literals;

// ---- options -----------------------------------------------------------------------------------

std::optional<PortMapping> parse_port_mapping(std::string_view text) noexcept {
    if (text == "auto") return PortMapping::automatic;
    if (text == "upnp") return PortMapping::upnp;
    if (text == "natpmp") return PortMapping::natpmp;
    if (text == "pcp") return PortMapping::pcp;
    if (text == "off") return PortMapping::off;
    return std::nullopt;
}

std::string_view to_string(PortMapping m) noexcept {
    switch (m) {
        case PortMapping::automatic: return "auto";
        case PortMapping::upnp: return "upnp";
        case PortMapping::natpmp: return "natpmp";
        case PortMapping::pcp: return "pcp";
        case PortMapping::off: return "off";
    }
    return "auto";
}

namespace {

std::optional<std::uint16_t> parse_port(std::string_view s) {
    unsigned v = 0;
    const auto* end = s.data() + s.size();
    const auto [p, ec] = std::from_chars(s.data(), end, v);
    if (s.empty() || ec != std::errc{} || p != end || v == 0 || v > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(v);
}

bool is_loopback(std::string_view host) {
    return host == "localhost" || host == "::1" || host.starts_with("127.");
}

}  // namespace

Result<PortRange> parse_port_range(std::string_view text) {
    const auto bad = [&] {
        return make_error(Errc::invalid_argument, "port range '" + std::string{text} +
                                                      "': expected FIRST-LAST (e.g. 40000-40100) or one port, 1..65535");
    };
    const auto dash = text.find('-');
    const auto first = parse_port(text.substr(0, dash));
    const auto last = dash == std::string_view::npos ? first : parse_port(text.substr(dash + 1));
    if (!first || !last) return bad();
    if (*last < *first)
        return make_error(Errc::invalid_argument, "port range '" + std::string{text} + "': the last port is below the first");
    return PortRange{*first, *last};
}

std::string_view to_string(ReachState s) noexcept {
    switch (s) {
        case ReachState::local: return "local";
        case ReachState::manual: return "manual";
        case ReachState::off: return "off";
        case ReachState::mapped: return "mapped";
        case ReachState::public_address: return "public_address";
        case ReachState::unreachable: return "unreachable";
    }
    return "local";
}

MappingPlan plan_mapping(const NodeOptions& o) {
    MappingPlan p;
    p.discover.upnp = o.port_mapping == PortMapping::automatic || o.port_mapping == PortMapping::upnp;
    p.discover.natpmp = o.port_mapping == PortMapping::automatic || o.port_mapping == PortMapping::natpmp;
    p.discover.pcp = o.port_mapping == PortMapping::automatic || o.port_mapping == PortMapping::pcp;
    switch (o.port_mapping) {
        case PortMapping::off:
            p.otherwise = o.public_host_given ? ReachState::manual : ReachState::off;
            p.reason = "port mapping off (--port-mapping off): parties are told " + o.public_host;
            return p;
        case PortMapping::upnp:
        case PortMapping::natpmp:
        case PortMapping::pcp:
            p.map = true;
            return p;
        case PortMapping::automatic: break;
    }
    if (o.public_host_given) {
        p.otherwise = ReachState::manual;
        p.reason = "no port mapping: --public-host " + o.public_host +
                   " was given, so the ports are forwarded by hand (--port-mapping upnp|natpmp|pcp maps anyway)";
        return p;
    }
    if (is_loopback(o.transfer_host)) {
        p.otherwise = ReachState::local;
        p.reason = "no port mapping: this node listens on loopback (" + o.transfer_host +
                   "), a market on one machine; listen on a LAN address (--transfer-host, --service-ip) to be reached";
        return p;
    }
    p.map = true;
    return p;
}

std::optional<std::uint16_t> draw_port(const PortRange& range, std::uint64_t start,
                                       const std::function<bool(std::uint16_t)>& usable) {
    const std::uint64_t n = range.size();
    for (std::uint64_t i = 0; i < n; ++i) {
        const auto port = static_cast<std::uint16_t>(range.first + (start + i) % n);
        if (usable(port)) return port;
    }
    return std::nullopt;
}

bool tcp_port_free(const std::string& ip, std::uint16_t port) {
    const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return false;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    const bool parsed = ::inet_pton(AF_INET, ip.empty() ? "0.0.0.0" : ip.c_str(), &a.sin_addr) == 1;
    const bool ok = parsed && ::bind(s, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
    ::close(s);
    return ok;
}

std::string service_purpose(std::uint64_t id) { return "svc-" + std::to_string(id); }

// ---- Reachability ------------------------------------------------------------------------------

namespace {

nlohmann::json mapping_json(const std::string& purpose, const portmap::Mapping& m) {
    return {{"purpose", purpose},
            {"method", m.method == portmap::Method::upnp_igd ? "upnp" : m.method == portmap::Method::pcp ? "pcp" : "natpmp"},
            {"protocol", m.protocol == portmap::Protocol::tcp ? "tcp" : "udp"},
            {"internal_address", m.internal_address},
            {"internal_port", m.internal_port},
            {"external_address", m.external_address},
            {"external_port", m.external_port},
            {"lease", m.lease.count()},
            {"description", m.description}};
}

std::optional<portmap::Mapping> mapping_from(const nlohmann::json& j) {
    if (!j.is_object()) return std::nullopt;
    portmap::Mapping m;
    const auto method = j.value("method", "");
    m.method = method == "natpmp" ? portmap::Method::natpmp : method == "pcp" ? portmap::Method::pcp : portmap::Method::upnp_igd;
    m.protocol = j.value("protocol", "tcp") == "udp" ? portmap::Protocol::udp : portmap::Protocol::tcp;
    m.internal_address = j.value("internal_address", "");
    m.internal_port = j.value("internal_port", std::uint16_t{0});
    m.external_address = j.value("external_address", "");
    m.external_port = j.value("external_port", std::uint16_t{0});
    m.lease = std::chrono::seconds{j.value("lease", 0)};
    m.description = j.value("description", "");
    if (m.internal_port == 0 || m.external_port == 0) return std::nullopt;
    return m;
}

bool same(const portmap::Mapping& a, const portmap::Mapping& b) {
    return a.protocol == b.protocol && a.external_port == b.external_port;
}

}  // namespace

Reachability::Reachability(std::string node_id, std::chrono::seconds lease, Persist persist)
    : node_id_{std::move(node_id)}, lease_{lease}, persist_{std::move(persist)} {}

Reachability::~Reachability() { stop_thread(); }

std::size_t Reachability::attach(portmap::PortMapper mapper) {
    std::lock_guard lock{mu_};
    mapper_.emplace(std::move(mapper));
    std::size_t removed = 0;
    // What a predecessor remembered (NAT-PMP cannot list; UPnP ones are found by tag below too).
    std::vector<portmap::Mapping> remembered;
    if (persist_.load) {
        if (const auto text = persist_.load(); text && !text->empty()) {
            const auto j = nlohmann::json::parse(*text, nullptr, false);
            if (j.is_array())
                for (const auto& e : j)
                    if (auto m = mapping_from(e)) remembered.push_back(*m);
        }
    }
    if (const auto method = mapper_->gateway().method; method != portmap::Method::upnp_igd) {  // cannot list
        for (const auto& m : remembered) {
            if (m.method != method) continue;
            if (auto r = mapper_->unmap(m); r) ++removed;
            else spdlog::info("port mapping: could not remove the earlier {} mapping of port {}: {}", portmap::to_string(method),
                              m.internal_port, r.error().message());
        }
    } else if (auto stale = mapper_->remove_stale(); stale) {
        removed += stale->size();
    } else {
        spdlog::info("port mapping: cannot list the router's mappings: {}", stale.error().message());
    }
    by_purpose_.clear();
    external_ = mapper_->gateway().external_address;
    save_locked();
    return removed;
}

bool Reachability::has_gateway() const {
    std::lock_guard lock{mu_};
    return mapper_.has_value();
}

std::optional<portmap::Gateway> Reachability::gateway() const {
    std::lock_guard lock{mu_};
    if (!mapper_) return std::nullopt;
    return mapper_->gateway();
}

Result<portmap::Mapping> Reachability::map(const std::string& purpose, std::uint16_t internal_port, Clock::time_point now) {
    std::lock_guard lock{mu_};
    if (!mapper_) return make_error(Errc::no_gateway, "no port-mapping gateway");
    if (auto it = by_purpose_.find(purpose); it != by_purpose_.end()) {
        if (it->second.internal_port == internal_port) return it->second;
        if (auto r = mapper_->unmap(it->second); !r)
            spdlog::info("port mapping: removing {} (port {}): {}", purpose, it->second.internal_port, r.error().message());
        leases_.forget(it->second);
        by_purpose_.erase(it);
    }
    portmap::MappingRequest req;
    req.protocol = portmap::Protocol::tcp;
    req.internal_port = internal_port;
    req.lease = lease_;
    req.purpose = purpose;
    auto m = mapper_->map(req);
    if (!m) return m.error().wrap("mapping port " + std::to_string(internal_port) + " (" + purpose + ")");
    by_purpose_[purpose] = *m;
    leases_.track(*m, now);
    save_locked();
    return *m;
}

void Reachability::unmap(const std::string& purpose) {
    std::lock_guard lock{mu_};
    const auto it = by_purpose_.find(purpose);
    if (it == by_purpose_.end()) return;
    if (mapper_) {
        if (auto r = mapper_->unmap(it->second); !r)
            spdlog::info("port mapping: removing {} (external port {}): {}", purpose, it->second.external_port,
                         r.error().message());
    }
    leases_.forget(it->second);
    failed_renewals_.erase(purpose);
    by_purpose_.erase(it);
    save_locked();
}

void Reachability::unmap_all() {
    for (const auto& p : purposes()) unmap(p);
}

std::optional<portmap::Mapping> Reachability::mapping(const std::string& purpose) const {
    std::lock_guard lock{mu_};
    if (auto it = by_purpose_.find(purpose); it != by_purpose_.end()) return it->second;
    return std::nullopt;
}

std::vector<std::string> Reachability::purposes() const {
    std::lock_guard lock{mu_};
    std::vector<std::string> out;
    for (const auto& [p, _] : by_purpose_) out.push_back(p);
    return out;
}

std::vector<std::string> Reachability::renew_due(Clock::time_point now) {
    std::lock_guard lock{mu_};
    std::vector<std::string> changed;
    if (!mapper_) return changed;
    // Every renewal asks the external address first: a router's new address is noticed within a
    // renewal (and within the node's periodic check when no lease is due).
    if (!leases_.due(now).empty()) (void)check_external_locked(now, changed);
    for (const auto& due : leases_.due(now)) {
        auto it = std::find_if(by_purpose_.begin(), by_purpose_.end(), [&](const auto& e) { return same(e.second, due); });
        if (it == by_purpose_.end()) {
            leases_.forget(due);
            continue;
        }
        auto r = mapper_->renew(it->second);
        if (!r) {
            // Tried again in an eighth of the lease (the half left gives several more tries).
            const auto retry = std::max<std::chrono::seconds>(1s, due.lease / 8);
            leases_.track(due, now + retry - portmap::renew_after(due.lease).value_or(0s));
            failed_renewals_[it->first] = now;
            spdlog::warn("port mapping: renewing {} (external port {}) failed, trying again in {} s: {}", it->first,
                         due.external_port, retry.count(), r.error().message());
            continue;
        }
        failed_renewals_.erase(it->first);
        leases_.forget(due);
        spdlog::debug("port mapping: {} renewed for {} s", it->first, r->lease.count());
        if (r->external_port != it->second.external_port || r->external_address != it->second.external_address) {
            spdlog::warn("port mapping: {} now at {}:{} (was {}:{}): the router lost the mapping", it->first,
                         r->external_address, r->external_port, it->second.external_address, it->second.external_port);
            changed.push_back(it->first);
        }
        it->second = *r;
        leases_.track(*r, now);
    }
    if (!changed.empty()) save_locked();
    return changed;
}

std::optional<Reachability::Clock::time_point> Reachability::next_due() const {
    std::lock_guard lock{mu_};
    return leases_.next_due();
}

void Reachability::set_state(ReachState s, std::string why, std::string announced_host) {
    std::lock_guard lock{mu_};
    state_ = s;
    why_ = std::move(why);
    announced_ = std::move(announced_host);
}

ReachState Reachability::state() const {
    std::lock_guard lock{mu_};
    return state_;
}

std::string Reachability::reason() const {
    std::lock_guard lock{mu_};
    return why_;
}

std::string Reachability::announced_host() const {
    std::lock_guard lock{mu_};
    return announced_;
}

nlohmann::json Reachability::view() const {
    std::lock_guard lock{mu_};
    nlohmann::json j{{"state", to_string(state_)},
                     {"reachable", state_ != ReachState::unreachable},
                     {"reason", why_},
                     {"announced_host", announced_}};
    if (mapper_) {
        const auto& g = mapper_->gateway();
        j["gateway"] = {{"protocol", portmap::to_string(g.method)},
                        {"address", g.address},
                        {"local_address", g.local_address},
                        {"external_address", g.external_address}};
    }
    auto ms = nlohmann::json::array();
    for (const auto& [p, m] : by_purpose_) {
        auto e = mapping_json(p, m);
        if (failed_renewals_.count(p) != 0) e["renewal_failing"] = true;
        ms.push_back(std::move(e));
    }
    j["mappings"] = std::move(ms);
    return j;
}

void Reachability::save_locked() const {
    if (!persist_.save) return;
    auto arr = nlohmann::json::array();
    for (const auto& [p, m] : by_purpose_) arr.push_back(mapping_json(p, m));
    persist_.save(arr.dump());
}

void Reachability::start_thread(std::chrono::seconds every, std::function<void()> periodic,
                                std::function<void(const std::vector<std::string>&)> moved) {
    stop_thread();
    {
        std::lock_guard lock{thread_mu_};
        stopping_ = false;
    }
    thread_ = std::thread{[this, every, periodic = std::move(periodic), moved = std::move(moved)] {
        auto next_check = Clock::now() + every;
        std::unique_lock lock{thread_mu_};
        while (!stopping_) {
            auto until = next_check;
            if (const auto due = next_due(); due && *due < until) until = *due;
            wake_.wait_until(lock, until, [this] { return stopping_; });
            if (stopping_) break;
            lock.unlock();
            const auto now = Clock::now();
            if (const auto changed = renew_due(now); !changed.empty() && moved) moved(changed);
            if (now >= next_check) {
                next_check = now + every;
                if (periodic) periodic();
            }
            lock.lock();
        }
    }};
}

void Reachability::stop_thread() {
    {
        std::lock_guard lock{thread_mu_};
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

// ---- the node's side ---------------------------------------------------------------------------

namespace {
constexpr const char* kMappingsSetting = "port_mappings";         // settings: the mappings held (JSON)
constexpr const char* kPausedSetting = "paused_unreachable";      // settings: "1" while this node paused itself
constexpr std::chrono::seconds kRecheck{30};                      // an unreachable worker looks again this often
}  // namespace

Result<void> NodeContext::start_reachability() {
    if (!opt.worker) return {};
    Reachability::Persist persist{
        [this]() -> std::optional<std::string> {
            auto s = store->setting(kMappingsSetting);
            return s ? *s : std::nullopt;
        },
        [this](const std::string& text) {
            if (auto w = store->set(kMappingsSetting, text); !w)
                spdlog::warn("port mapping: cannot remember the mappings: {}", w.error().message());
        }};
    reach = std::make_unique<Reachability>(runtime_id, opt.port_mapping_lease, std::move(persist));
    check_reachability();
    // A new address or port of a mapping: the running work's parties must hear of it (the worker's
    // step of each running agreement compares what it announced with what it would announce now).
    const auto tell_running = [this] {
        auto open = store->list(false);
        if (!open) return;
        for (const auto& a : *open)
            if (a.role == Role::worker && a.phase == Phase::running) wake(a.id);
    };
    reach->start_thread(
        kRecheck,
        [this, tell_running] {
            // Mapped: has the router's external address changed (a new DHCP lease)? Leases renewed
            // before ask it too. A private one now makes the node unreachable (handled below).
            if (reach->state() == ReachState::mapped &&
                reach->check_external(Reachability::Clock::now()).change == ExternalChange::changed)
                tell_running();
            if (reach->state() != ReachState::unreachable) return;
            check_reachability();
            enforce_reachability();
        },
        [tell_running](const std::vector<std::string>&) { tell_running(); });
    return {};
}

void NodeContext::check_reachability() {
    std::lock_guard one{reach_check_mu};  // the re-check thread and a step's (watch_first_contact)
    const auto plan = plan_mapping(opt);
    if (!plan.map) {
        reach->set_state(plan.otherwise, plan.reason, opt.public_host);
        spdlog::info("{}", plan.reason);
        return;
    }
    auto found = portmap::PortMapper::discover(runtime_id, plan.discover);
    std::string why;
    if (found) {
        const auto removed = reach->attach(std::move(*found));
        const auto g = *reach->gateway();
        if (removed != 0) spdlog::info("port mapping: removed {} mapping(s) an earlier run of this node left", removed);
        const auto now = Reachability::Clock::now();
        auto t = reach->map("transfer", transfer->port(), now);
        Result<portmap::Mapping> l = t;
        if (t && log_server) l = reach->map("log", log_server->port(), now);
        if (t && l) {
            // Work that runs already (a restart) keeps its service reachable.
            if (auto open = store->list(false)) {
                for (const auto& a : *open) {
                    if (a.role != Role::worker || a.rec.service_port == 0) continue;
                    const auto port = a.rec.service_port;
                    if (auto s = reach->map(service_purpose(a.id), port, now); !s)
                        spdlog::warn("agreement {}: port mapping of its service port {}: {}", a.id, port, s.error().message());
                }
            }
            const auto host = opt.public_host_given ? opt.public_host : t->external_address;
            reach->set_state(ReachState::mapped,
                             "ports mapped on the router " + g.address + " (" + std::string{portmap::to_string(g.method)} +
                                 "): parties reach this node at " + host,
                             host);
            spdlog::info("port mapping: {} at {} maps transfer {} -> {}:{}, log {} -> {}:{}; announcing {}",
                         portmap::to_string(g.method), g.address, t->internal_port, t->external_address, t->external_port,
                         l->internal_port, l->external_address, l->external_port, host);
            return;
        }
        why = (t ? l.error() : t.error()).message();
        reach->unmap_all();
    } else {
        why = found.error().message();
        if (found.error().code() != Errc::no_gateway && found.error().code() != Errc::double_nat &&
            found.error().code() != Errc::mapping_refused)
            why = "the router did not answer as expected: " + why;
    }
    if (opt.public_host_given) {
        reach->set_state(ReachState::manual, "no port mapping (" + why + "): parties are told --public-host " + opt.public_host,
                         opt.public_host);
        spdlog::warn("port mapping: {}; announcing --public-host {} (its ports must be forwarded by hand)", why, opt.public_host);
        return;
    }
    if (const auto own = portmap::public_local_addresses(); !own.empty()) {
        reach->set_state(ReachState::public_address, "no router to map on; this host has the public address " + own.front(),
                         own.front());
        spdlog::info("port mapping: none ({}); this host has the public address {}: announcing it", why, own.front());
        return;
    }
    reach->set_state(ReachState::unreachable,
                     "nobody can reach this worker: " + why +
                         ". Enable UPnP IGD, NAT-PMP or PCP on the router, or forward the ports by hand and pass --public-host",
                     opt.public_host);
}

bool NodeContext::reachable() const { return !reach || reach->state() != ReachState::unreachable; }

void NodeContext::enforce_reachability() {
    const auto id = worker_id.load();
    if (id == 0 || !reach) return;
    auto w = dispatcher->get_worker(id);
    if (!w) {
        spdlog::warn("reachability: cannot read worker {}: {}", id, w.error().message());
        return;
    }
    const bool paused_by_us = store->setting(kPausedSetting).value_or(std::nullopt).value_or("") == "1";
    if (!reachable()) {
        spdlog::warn("worker {} takes no work: {}", id, reach->reason());
        if (w->status != v2::WorkerStatus::active) return;
        if (auto r = call(0, "pause:" + std::to_string(now_ms()), v2::calls::pause_worker()); !r) {
            spdlog::error("worker {}: cannot pause the offer: {}", id, r.error().message());
            return;
        }
        (void)store->set(kPausedSetting, "1");
        spdlog::warn("worker {} paused in the market until it can be reached", id);
    } else if (paused_by_us) {
        if (w->status == v2::WorkerStatus::paused) {
            if (auto r = call(0, "resume:" + std::to_string(now_ms()), v2::calls::resume_worker()); !r) {
                spdlog::error("worker {}: cannot resume the offer: {}", id, r.error().message());
                return;
            }
            spdlog::info("worker {} reachable again ({}): offer resumed", id, reach->reason());
        }
        (void)store->set(kPausedSetting, "0");
    }
}

std::pair<std::string, std::uint16_t> NodeContext::public_endpoint(const std::string& purpose, std::uint16_t internal_port) {
    if (!reach) return {opt.public_host, internal_port};
    const auto host = reach->announced_host();
    if (auto m = reach->mapping(purpose)) return {host.empty() ? m->external_address : host, m->external_port};
    return {host.empty() ? opt.public_host : host, internal_port};
}

Result<std::uint16_t> NodeContext::choose_service_port(std::uint64_t id) {
    if (!opt.service_ports) return free_port(opt.service_ip);
    // Ports other agreements of this node hold (planned or serving) are not drawn again.
    std::set<std::uint16_t> taken;
    if (auto open = store->list(false)) {
        for (const auto& a : *open) {
            if (a.role != Role::worker || a.id == id) continue;
            for (const auto p : {a.rec.planned_port, a.rec.service_port})
                if (p != 0) taken.insert(p);
        }
    }
    const auto start = ZP_TRY(random_secret());
    std::uint64_t seed = 0;
    for (std::size_t i = 0; i < 8; ++i) seed = (seed << 8) | start[i];
    const auto ip = opt.service_ip == "0.0.0.0" || opt.service_ip.empty() ? std::string{"0.0.0.0"} : opt.service_ip;
    const auto port = draw_port(*opt.service_ports, seed,
                                [&](std::uint16_t p) { return taken.count(p) == 0 && tcp_port_free(ip, p); });
    if (!port)
        return make_error(Errc::address_in_use, "no free port in --service-ports " + std::to_string(opt.service_ports->first) +
                                                    "-" + std::to_string(opt.service_ports->last));
    return *port;
}

Result<void> NodeContext::map_service(std::uint64_t id, std::uint16_t port) {
    if (!reach || reach->state() != ReachState::mapped) return {};
    auto m = reach->map(service_purpose(id), port, Reachability::Clock::now());
    if (!m) {
        // Another port next time (the router may hold this one for another host).
        (void)update(id, [](LocalAgreement& la) { la.rec.planned_port = 0; });
        return m.error();
    }
    spdlog::info("agreement {}: service port {} mapped to {}:{}", id, port, m->external_address, m->external_port);
    return {};
}

void NodeContext::unmap_service(std::uint64_t id) {
    if (reach) reach->unmap(service_purpose(id));
}

void NodeContext::stop_reachability() {
    if (!reach) return;
    reach->stop_thread();
    reach->unmap_all();
}

json NodeContext::reachability_json() {
    if (!reach) return json{{"state", "client_only"}, {"reachable", false}};
    auto j = reach->view();
    std::lock_guard lock{mu};
    if (!unreached.empty()) j["unreached"] = unreached;
    return j;
}

void NodeContext::watch_first_contact(std::uint64_t id, bool contacted) {
    const auto now = world->now_ms();
    const auto bound_ms = std::int64_t{opt.unreached_after.count()} * 1000;
    std::string warning;
    {
        std::lock_guard lock{mu};
        if (contacted) {
            offer_seen_ms.erase(id);
            return;
        }
        const auto [it, fresh] = offer_seen_ms.emplace(id, now);
        if (it->second < 0) return;  // said once already
        if (now - it->second < bound_ms) {
            wake_at_ms(id, it->second + bound_ms);
            return;
        }
        const auto [host, port] = public_endpoint("transfer", transfer->port());
        warning = fmt::format("agreement {}: no client has connected to this worker's transfer port ({}:{}, as announced) "
                              "within {} s of its offer: it may not be reachable there; checking reachability again",
                              id, host, port, opt.unreached_after.count());
        it->second = -1;
        unreached = warning;
    }
    spdlog::warn("{}", warning);
    (void)update(id, [&](LocalAgreement& la) { la.rec.last_error = warning; });
    if (!reach) return;
    check_reachability();
    enforce_reachability();
    spdlog::info("reachability after the check: {}", reach->reason());
}

}  // namespace zeppelin::node
