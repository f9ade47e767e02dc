#include "diff_harness.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace zeppelin::diff {

std::vector<Generator>& generators() {
    static std::vector<Generator> g;
    return g;
}

Case util_case(std::string cmd, std::vector<std::string> args, bool must_succeed) {
    Case c;
    c.cast_args.push_back(cmd);
    c.zeppelin_args = {"util", cmd};
    for (auto& a : args) {
        c.cast_args.push_back(a);
        c.zeppelin_args.push_back(a);
    }
    c.must_succeed = must_succeed;
    return c;
}

namespace {

class Fd final {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_{fd} {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    Fd(Fd&& o) noexcept : fd_{o.release()} {}
    Fd& operator=(Fd&& o) noexcept {
        reset(o.release());
        return *this;
    }
    ~Fd() { reset(); }
    int get() const { return fd_; }
    int release() {
        int f = fd_;
        fd_ = -1;
        return f;
    }
    void reset(int f = -1) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = f;
    }

private:
    int fd_{-1};
};

void make_pipe(Fd& r, Fd& w) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error{std::string{"pipe: "} + std::strerror(errno)};
    r.reset(p[0]);
    w.reset(p[1]);
}

}  // namespace

RunResult run_process(const std::vector<std::string>& argv, const std::optional<std::string>& input) {
    Fd out_r, out_w, in_r, in_w;
    make_pipe(out_r, out_w);
    make_pipe(in_r, in_w);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in_r.get(), 0);
    posix_spawn_file_actions_adddup2(&fa, out_w.get(), 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);

    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, cargv[0], &fa, nullptr, cargv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw std::runtime_error{"cannot start " + argv[0] + ": " + std::strerror(rc)};
    in_r.reset();
    out_w.reset();

    // feed stdin and read stdout without deadlocking
    std::string data = input.value_or("");
    std::size_t written = 0;
    if (data.empty()) in_w.reset();
    RunResult res;
    char buf[65536];
    while (out_r.get() >= 0) {
        pollfd fds[2];
        nfds_t n = 0;
        fds[n++] = {out_r.get(), POLLIN, 0};
        if (in_w.get() >= 0) fds[n++] = {in_w.get(), POLLOUT, 0};
        if (::poll(fds, n, 30000) <= 0) break;
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            auto k = ::read(out_r.get(), buf, sizeof buf);
            if (k <= 0) out_r.reset();
            else res.out.append(buf, static_cast<std::size_t>(k));
        }
        if (n > 1 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
            auto k = ::write(in_w.get(), data.data() + written, data.size() - written);
            if (k <= 0) in_w.reset();
            else written += static_cast<std::size_t>(k);
            if (written >= data.size()) in_w.reset();
        }
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    res.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    return res;
}

std::string shell_join(const std::vector<std::string>& argv) {
    std::string s;
    for (auto& a : argv) {
        if (!s.empty()) s += ' ';
        bool plain = !a.empty() && a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                                        "_-+=./:@%,") == std::string::npos;
        if (plain) {
            s += a;
            continue;
        }
        s += '\'';
        for (char c : a) {
            if (c == '\'') s += "'\\''";
            else s += c;
        }
        s += '\'';
    }
    return s;
}

std::string hex_of(std::string_view bytes) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string s;
    for (char ch : bytes) {
        auto c = static_cast<unsigned char>(ch);
        s += kHex[c >> 4];
        s += kHex[c & 0xf];
    }
    return s;
}

}  // namespace zeppelin::diff
