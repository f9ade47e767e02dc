// Running a shell command from a test and capturing what it prints (test-only code).
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

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

}  // namespace zeppelin::test
