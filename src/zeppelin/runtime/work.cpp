#include "zeppelin/runtime/work.hpp"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <limits>
#include <set>

namespace zeppelin::runtime {

using nlohmann::json;

std::string_view to_string(RestartPolicy p) noexcept {
    switch (p) {
        case RestartPolicy::no:
            return "no";
        case RestartPolicy::on_failure:
            return "on-failure";
        case RestartPolicy::unless_stopped:
            return "unless-stopped";
        case RestartPolicy::always:
            return "always";
    }
    return "no";
}

Result<RestartPolicy> parse_restart_policy(std::string_view text) {
    for (auto p : {RestartPolicy::no, RestartPolicy::on_failure, RestartPolicy::unless_stopped, RestartPolicy::always})
        if (text == to_string(p)) return p;
    return Error{Errc::invalid_argument, "unknown restart policy \"" + std::string{text} +
                                             "\" (expected no, on-failure, unless-stopped or always)"};
}

namespace {

bool is_id_text(std::string_view s) {
    return !s.empty() && s.size() <= 80 && std::all_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '-' || u == '_' ||
               u == '.';
    });
}

std::string normalize_image_id(std::string id) {
    if (id.size() == 64 && id.find(':') == std::string::npos) return "sha256:" + id;
    return id;
}

constexpr auto kMaxI64 = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

Result<void> check_ulimit(std::string_view name, const Ulimit& u) {
    if (u.soft <= 0 || u.hard <= 0 || u.soft > u.hard)
        return Error{Errc::invalid_argument, "ulimit " + std::string{name} + " must have 0 < soft <= hard (got " +
                                                 std::to_string(u.soft) + ":" + std::to_string(u.hard) + ")"};
    return {};
}

std::vector<std::string> work_labels(std::string_view agreement_id, std::string_view worker_id) {
    std::vector<std::string> labels{std::string{kManagedLabel} + "=1"};
    if (!agreement_id.empty()) labels.push_back(std::string{kAgreementLabel} + "=" + std::string{agreement_id});
    if (!worker_id.empty()) labels.push_back(std::string{kWorkerLabel} + "=" + std::string{worker_id});
    return labels;
}

// ContainerInfo (inspect) and ContainerSummary (list) carry the same fields under the same
// names; only the state differs in shape.
template <class Container>
RunningWork running_work(const Container& c, std::string state) {
    RunningWork w;
    if (auto it = c.labels.find(std::string{kAgreementLabel}); it != c.labels.end()) w.agreement_id = it->second;
    w.container_id = c.id;
    w.container_name = c.name;
    w.image = c.image;
    w.image_id = normalize_image_id(c.image_id);
    w.state = std::move(state);
    for (const auto& p : c.ports) {
        if (p.host_port != 0) {
            w.host_ip = p.host_ip.empty() ? "0.0.0.0" : p.host_ip;
            w.host_port = p.host_port;
            break;
        }
    }
    return w;
}

RunningWork from_info(const ContainerInfo& info) { return running_work(info, info.state.status); }

RunningWork from_summary(const ContainerSummary& s) { return running_work(s, s.state); }

}  // namespace

Result<void> validate(const WorkSpec& spec) {
    if (!is_id_text(spec.agreement_id))
        return Error{Errc::invalid_argument,
                     "agreement id \"" + spec.agreement_id + "\" must be 1-80 characters of A-Z a-z 0-9 _ . -"};
    if (!spec.worker_id.empty() && !is_id_text(spec.worker_id))
        return Error{Errc::invalid_argument,
                     "worker id \"" + spec.worker_id + "\" must be 1-80 characters of A-Z a-z 0-9 _ . -"};
    if (spec.image.empty()) return Error{Errc::invalid_argument, "no image given for agreement " + spec.agreement_id};
    if (spec.memory_bytes < 6u * 1024u * 1024u || spec.memory_bytes > kMaxI64)
        return Error{Errc::invalid_argument,
                     "memory limit " + std::to_string(spec.memory_bytes) + " bytes is out of range (at least 6 MiB)"};
    if (spec.nano_cpus < 1'000'000 || spec.nano_cpus > kMaxI64)
        return Error{Errc::invalid_argument,
                     "CPU limit " + std::to_string(spec.nano_cpus) + " nano-CPUs is out of range (at least 0.001 CPU)"};
    if (spec.pids_limit <= 0)
        return Error{Errc::invalid_argument,
                     "pids limit must be positive (got " + std::to_string(spec.pids_limit) + ")"};
    ZP_CHECK(check_ulimit("nofile", spec.nofile));
    ZP_CHECK(check_ulimit("nproc", spec.nproc));
    if (spec.container_port == 0) return Error{Errc::invalid_argument, "the service port must not be 0"};
    if (spec.protocol != "tcp" && spec.protocol != "udp")
        return Error{Errc::invalid_argument, "service protocol must be tcp or udp (got \"" + spec.protocol + "\")"};
    boost::system::error_code ec;
    (void)boost::asio::ip::make_address(spec.host_ip, ec);
    if (ec) return Error{Errc::invalid_argument, "host address \"" + spec.host_ip + "\" is not an IP address"};
    for (const auto& e : spec.env)
        if (e.find('=') == std::string::npos || e.front() == '=')
            return Error{Errc::invalid_argument, "environment entry \"" + e + "\" must be KEY=value"};
    for (const auto& [k, v] : spec.extra_labels)
        if (k.starts_with("io.zeppelin."))
            return Error{Errc::invalid_argument, "label " + k + " is reserved for Zeppelin"};
    return {};
}

std::string container_name(const WorkSpec& spec) {
    std::string name = "zeppelin-";
    if (!spec.worker_id.empty()) name += spec.worker_id + "-";
    return name + spec.agreement_id;
}

Result<nlohmann::json> build_create_body(const WorkSpec& spec) {
    ZP_CHECK(validate(spec));
    const std::string port_key = std::to_string(spec.container_port) + "/" + spec.protocol;
    json labels = json::object();
    for (const auto& [k, v] : spec.extra_labels) labels[k] = v;
    labels[std::string{kAgreementLabel}] = spec.agreement_id;
    labels[std::string{kManagedLabel}] = "1";
    if (!spec.worker_id.empty()) labels[std::string{kWorkerLabel}] = spec.worker_id;

    const auto memory = static_cast<std::int64_t>(spec.memory_bytes);
    json host = {
        {"Memory", memory},
        {"MemorySwap", memory},  // equal to Memory: no swap at all
        {"NanoCpus", static_cast<std::int64_t>(spec.nano_cpus)},
        {"PidsLimit", spec.pids_limit},
        {"Ulimits", json::array({{{"Name", "nofile"}, {"Soft", spec.nofile.soft}, {"Hard", spec.nofile.hard}},
                                 {{"Name", "nproc"}, {"Soft", spec.nproc.soft}, {"Hard", spec.nproc.hard}}})},
        {"CapDrop", json::array({"ALL"})},
        {"SecurityOpt", json::array({"no-new-privileges"})},
        {"Privileged", false},
        {"PortBindings",
         {{port_key,
           // All interfaces is an empty HostIp: Podman 4.3 (netavark) turns an explicit "0.0.0.0"
           // into a DNAT rule for destination 0.0.0.0/32, which matches no traffic.
           json::array({{{"HostIp", spec.host_ip == "0.0.0.0" ? std::string{} : spec.host_ip},
                         {"HostPort", spec.host_port == 0 ? std::string{} : std::to_string(spec.host_port)}}})}}},
        {"RestartPolicy",
         {{"Name", std::string{to_string(spec.restart)}},
          {"MaximumRetryCount", spec.restart == RestartPolicy::on_failure ? spec.restart_max_retries : 0u}}},
    };
    json body = {
        {"Image", spec.image},   {"Labels", labels},      {"ExposedPorts", {{port_key, json::object()}}},
        {"Tty", false},          {"OpenStdin", false},    {"AttachStdin", false},
        {"AttachStdout", false}, {"AttachStderr", false}, {"HostConfig", host},
    };
    if (!spec.cmd.empty()) body["Cmd"] = spec.cmd;
    if (!spec.env.empty()) body["Env"] = spec.env;
    return body;
}

Result<RunningWork> start_work(const Engine& engine, const WorkSpec& spec) {
    const auto body = ZP_TRY(build_create_body(spec));
    const std::string name = container_name(spec);
    auto created = engine.create_container(body, name);
    if (!created && created.error().code() == Errc::already_exists) {
        // A leftover of this agreement (crash between create and start, or a finished run): replace it.
        auto old = engine.inspect_container(name);
        if (!old) return created.error();
        auto it = old->labels.find(std::string{kAgreementLabel});
        if (it == old->labels.end() || it->second != spec.agreement_id)
            return Error{Errc::already_exists,
                         "a container named " + name + " exists and does not belong to agreement " + spec.agreement_id};
        if (old->state.running)
            return Error{Errc::already_exists,
                         "agreement " + spec.agreement_id + " already runs in container " + old->id.substr(0, 12)};
        auto removed = engine.remove_container(old->id, true);
        if (!removed && removed.error().code() != Errc::not_found) return removed.error();
        created = engine.create_container(body, name);
    }
    if (!created) return created.error().wrap("starting the work of agreement " + spec.agreement_id);
    const std::string id = *created;
    auto cleanup = [&](Error e) -> Error {
        (void)engine.remove_container(id, true);
        return e.wrap("starting the work of agreement " + spec.agreement_id);
    };
    if (auto started = engine.start_container(id); !started) {
        // The engine says it in words only; the caller decides on a type (another port, or a retry).
        const auto& m = started.error().message();
        if (m.find("address already in use") != std::string::npos || m.find("port is already allocated") != std::string::npos)
            return cleanup(Error{Errc::address_in_use, m});
        return cleanup(started.error());
    }
    auto info = engine.inspect_container(id);
    if (!info) return cleanup(info.error());
    return from_info(*info);
}

Result<std::map<std::string, RunningWork>> find_work(const Engine& engine, std::string_view worker_id) {
    auto list = ZP_TRY(engine.list_containers(work_labels({}, worker_id), true));
    std::map<std::string, RunningWork> out;
    for (const auto& s : list) {
        RunningWork w = from_summary(s);
        if (w.agreement_id.empty()) continue;
        // Several containers of one agreement should not exist; if they do, report the running one.
        auto [it, inserted] = out.emplace(w.agreement_id, w);
        if (!inserted && it->second.state != "running" && w.state == "running") it->second = w;
    }
    return out;
}

Result<RunningWork> find_agreement(const Engine& engine, std::string_view agreement_id, std::string_view worker_id) {
    if (!is_id_text(agreement_id))
        return Error{Errc::invalid_argument, "agreement id \"" + std::string{agreement_id} + "\" is not valid"};
    auto list = ZP_TRY(engine.list_containers(work_labels(agreement_id, worker_id), true));
    if (list.empty()) return Error{Errc::not_found, "no container for agreement " + std::string{agreement_id}};
    const auto running = std::find_if(list.begin(), list.end(), [](const auto& s) { return s.state == "running"; });
    auto info = ZP_TRY(engine.inspect_container(running != list.end() ? running->id : list.front().id));
    return from_info(info);
}

Result<void> end_work(const Engine& engine, std::string_view agreement_id, const EndOptions& options,
                      std::string_view worker_id) {
    if (!is_id_text(agreement_id))
        return Error{Errc::invalid_argument, "agreement id \"" + std::string{agreement_id} + "\" is not valid"};
    const std::string context = "ending the work of agreement " + std::string{agreement_id};
    auto list = engine.list_containers(work_labels(agreement_id, worker_id), true);
    if (!list) return list.error().wrap(context);
    std::set<std::string> images;
    for (const auto& s : *list) {
        if (!s.image_id.empty()) images.insert(normalize_image_id(s.image_id));
        if (s.state == "running" || s.state == "restarting" || s.state == "paused") {
            // A failed stop falls through to the forced removal, which kills the container anyway.
            (void)engine.stop_container(s.id, options.grace);
        }
        auto removed = engine.remove_container(s.id, true);
        if (!removed && removed.error().code() != Errc::not_found) return removed.error().wrap(context);
    }
    if (!options.remove_image || images.empty()) return {};
    // Keep an image another container still uses (another agreement may run the same image).
    auto remaining = engine.list_containers({}, true);
    if (!remaining) return remaining.error().wrap(context);
    for (const auto& s : *remaining) images.erase(normalize_image_id(s.image_id));
    for (const auto& image : images) {
        auto removed = engine.remove_image(image, false);
        if (!removed && removed.error().code() != Errc::not_found) return removed.error().wrap(context);
    }
    return {};
}

}  // namespace zeppelin::runtime
