// Transfer progress as the client sees it, and a docker-push-like terminal renderer.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "zeppelin/transfer/digest.hpp"

namespace zeppelin::transfer {

struct LayerProgress {
    enum class State { waiting, exists, pushing, pushed };
    Digest diff_id;
    std::uint64_t size{0};
    std::uint64_t done{0};  ///< uncompressed bytes the worker holds
    State state{State::waiting};
};

struct Progress {
    std::uint64_t bytes_done{0};   ///< uncompressed layer bytes the worker holds (cached + sent)
    std::uint64_t bytes_total{0};  ///< image size (sum of distinct layers)
    std::uint64_t wire_bytes{0};   ///< bytes on the connection so far (all attempts, TLS included)
    double rate{0};                ///< layer bytes per second in this run (not money: a display figure)
    double eta_seconds{-1};        ///< -1 when unknown
    int attempt{1};
    std::string error;  ///< why the last attempt failed, with the worker's address ("" while none did)
    bool finished{false};
    std::vector<LayerProgress> layers;  ///< one per distinct layer, in image order
};

using ProgressCallback = std::function<void(const Progress&)>;

/// "12.3MB", "1.2GB" (decimal units, as docker prints them).
std::string human_bytes(std::uint64_t bytes);

/// Renders per-layer lines like `docker push`:
///   3f4a2b1c9d8e: Pushed
///   a1b2c3d4e5f6: Pushing [=============>        ]  612.4MB/1.07GB
///   9c8b7a6d5e4f: Layer already exists
///   total 640MB/1.1GB  812MB/s  ETA 0:01
/// On a terminal it redraws in place (ANSI cursor-up); otherwise it prints a line per change.
class ProgressRenderer final {
  public:
    explicit ProgressRenderer(std::FILE* out = stderr, bool tty = false) : out_{out}, tty_{tty} {}
    void operator()(const Progress& p);
    /// The text of one frame (for tests and non-terminal logs).
    static std::vector<std::string> render(const Progress& p, std::size_t bar_width = 30);

  private:
    std::FILE* out_;
    bool tty_;
    std::size_t drawn_{0};
    std::vector<LayerProgress::State> last_states_;
};

}  // namespace zeppelin::transfer
