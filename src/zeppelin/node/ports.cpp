// The live implementations of the roles' ports (ports.hpp) over the node's context.
#include "zeppelin/node/context.hpp"

#include <chrono>

#include "zeppelin/eth/http.hpp"
#include "zeppelin/runtime/work.hpp"

namespace zeppelin::node {

namespace {

class LiveChain final : public ChainPort {
  public:
    explicit LiveChain(NodeContext& n) : n_{n} {}
    Result<market::v2::AgreementView> agreement(std::uint64_t id) override { return n_.view_of(id); }
    Result<eth::Receipt> send(std::uint64_t id, const std::string& action, Bytes data) override {
        return n_.call(id, action, std::move(data));
    }
    Result<std::pair<Address, eth::PublicKey>> worker_identity(std::uint64_t worker) override {
        return n_.worker_identity(worker);
    }
    Result<eth::PublicKey> client_key(std::uint64_t id) override { return n_.client_key(id); }
    Result<bool> reported(std::uint64_t id, std::uint64_t batch, std::uint64_t index) override {
        const auto r = ZP_TRY(n_.dispatcher->get_report(id, batch * market::v2::kBatchWords, index));
        return r.submitted;
    }
    Result<std::vector<std::uint32_t>> preview_verifiers(std::uint64_t id) override {
        return n_.dispatcher->preview_verifiers(id);
    }
    Result<u256> credit() override { return n_.dispatcher->credit_of(n_.me); }

  private:
    NodeContext& n_;
};

class LiveWork final : public WorkPort {
  public:
    explicit LiveWork(NodeContext& n) : n_{n} {}
    Result<runtime::ImageInfo> image(const std::string& ref) override { return n_.engine->inspect_image(ref); }
    Result<runtime::RunningWork> find(const std::string& agreement) override {
        return runtime::find_agreement(*n_.engine, agreement, n_.runtime_id);
    }
    Result<runtime::RunningWork> start(const runtime::WorkSpec& spec) override { return runtime::start_work(*n_.engine, spec); }
    Result<void> end(const std::string& agreement) override {
        runtime::EndOptions eo;
        eo.grace = std::chrono::seconds{0};
        eo.remove_image = false;  // kept: a later agreement for the same image starts at once...
        ZP_CHECK(runtime::end_work(*n_.engine, agreement, eo, n_.runtime_id));
        n_.prune_images();  // ...up to --keep-images of them
        return {};
    }

  private:
    NodeContext& n_;
};

class LiveWorld final : public WorldPort {
  public:
    explicit LiveWorld(std::string rpc_url) : rpc_url_{std::move(rpc_url)} {}
    std::int64_t now_ms() override { return node::now_ms(); }
    probe::Outcome probe(const probe::Spec& spec, const probe::Endpoint& endpoint,
                         std::chrono::milliseconds timeout) override {
        return probe::run(spec, endpoint, timeout);
    }
    bool reaches_world() override {
        auto url = eth::HttpUrl::parse(rpc_url_);
        if (!url) return true;  // not a TCP endpoint (nothing to check against): trust the probe
        return probe::run(tcp_spec(), probe::Endpoint{url->host, url->port}, std::chrono::seconds{3}).ok;
    }

  private:
    std::string rpc_url_;
};

}  // namespace

void NodeContext::install_live_ports() {
    chain = std::make_unique<LiveChain>(*this);
    if (engine) work = std::make_unique<LiveWork>(*this);
    world = std::make_unique<LiveWorld>(opt.rpc_url);
}

}  // namespace zeppelin::node
