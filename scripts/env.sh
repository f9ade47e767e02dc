# Sourced by the other scripts: puts the pinned toolchain first on PATH.
ZEPPELIN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ZEPPELIN_ROOT
export PATH="$ZEPPELIN_ROOT/node_modules/.bin:$ZEPPELIN_ROOT/build/src/zeppelin/cli:$PATH"
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-5G}"
# Paths relative to the checkout, so a fresh clone elsewhere still hits the cache.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$ZEPPELIN_ROOT}"
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"
