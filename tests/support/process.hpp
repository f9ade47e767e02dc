// Running a shell command from a test and capturing what it prints, and waiting for a condition
// (test-only code).
#pragma once

#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>

namespace zeppelin::test {

struct CommandResult {
    int status{-1};   // the exit code, or -1 if the command could not start or did not exit normally
    std::string out;  // standard output (add "2>&1" to the command for standard error too)
};

/// Runs `command` through /bin/sh. Callers build commands from paths and fixed words only.
inline CommandResult run_command(const std::string& command) {
    CommandResult r;
    FILE* p = ::popen(command.c_str(), "r");
    if (p == nullptr) return r;
    char buf[4096];
    while (auto n = std::fread(buf, 1, sizeof buf, p)) r.out.append(buf, n);
    const int w = ::pclose(p);
    r.status = WIFEXITED(w) ? WEXITSTATUS(w) : -1;
    return r;
}

/// Asks `done` every 250 ms until it says yes or `limit` passed; its last answer.
inline bool wait_until(const std::function<bool()>& done, std::chrono::seconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
        if (done()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds{250});
    }
    return done();
}

}  // namespace zeppelin::test
