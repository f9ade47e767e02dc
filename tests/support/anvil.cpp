#include "anvil.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "zeppelin/eth/rpc.hpp"

#ifndef ZEPPELIN_SOURCE_DIR
#error "ZEPPELIN_SOURCE_DIR must be defined for test targets"
#endif

namespace zeppelin::test {

using namespace std::chrono_literals;

std::string Anvil::binary() { return std::string{ZEPPELIN_SOURCE_DIR} + "/node_modules/.bin/anvil"; }

std::uint16_t Anvil::free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw std::runtime_error{std::string{"socket: "} + std::strerror(errno)};
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        throw std::runtime_error{std::string{"bind: "} + std::strerror(errno)};
    }
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

Anvil::Anvil(AnvilOptions options) : options_{std::move(options)}, port_{free_port()} { start(); }

Anvil::~Anvil() { stop(); }

void Anvil::start() {
    if (running()) return;
    std::vector<std::string> args{binary(), "--port", std::to_string(port_), "--host", "127.0.0.1", "--silent"};
    if (options_.block_time) {
        args.emplace_back("--block-time");
        args.push_back(std::to_string(*options_.block_time));
    }
    if (options_.no_mining) args.emplace_back("--no-mining");
    for (const auto& a : options_.extra_args) args.push_back(a);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    const pid_t parent = ::getpid();
    // PR_SET_PDEATHSIG fires when the *thread* that forked exits, so only use it from the main thread.
    const bool main_thread = ::gettid() == parent;
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error{std::string{"fork: "} + std::strerror(errno)};
    if (pid == 0) {
        // Child: only async-signal-safe calls. Die with the test process.
        if (main_thread) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (::getppid() != parent) ::_exit(127);
        }
        const int devnull = ::open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            ::dup2(devnull, 0);
            ::dup2(devnull, 1);
            ::dup2(devnull, 2);
        }
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    pid_ = pid;
    wait_ready();
}

void Anvil::wait_ready() {
    eth::RpcOptions o;
    o.max_retries = 0;
    o.http.connect_timeout = 500ms;
    o.http.request_timeout = 2s;
    auto client = eth::RpcClient::connect(url(), o).value();
    const auto deadline = std::chrono::steady_clock::now() + options_.startup_timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            throw std::runtime_error{"anvil (" + binary() + ") exited during startup on port " + std::to_string(port_)};
        }
        if (client->chain_id()) return;
        std::this_thread::sleep_for(25ms);
    }
    stop();
    throw std::runtime_error{"anvil did not answer eth_chainId on " + url() + " within the startup timeout"};
}

void Anvil::stop() {
    if (!running()) return;
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    int status = 0;
    for (;;) {
        const pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_ || (r < 0 && errno == ECHILD)) break;
        if (std::chrono::steady_clock::now() >= deadline) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, &status, 0);
            break;
        }
        std::this_thread::sleep_for(10ms);
    }
    pid_ = -1;
}

}  // namespace zeppelin::test
