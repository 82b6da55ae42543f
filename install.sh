#!/usr/bin/env bash
# Install prodgate on a bare repository (created when absent), or remove it.
#   ./install.sh [<path-to-bare-repo>]          install (running it again changes nothing; default ./demo.git)
#   ./install.sh --uninstall <path-to-bare-repo> remove prodgate's hooks, restore earlier ones
set -euo pipefail

usage() { echo "usage: $0 [--uninstall] [<path-to-bare-repo>]" >&2; exit 2; }
die() { echo "install.sh: $*" >&2; exit 1; }

uninstall=no
repo=
for arg in "$@"; do
  case "$arg" in
    --uninstall) uninstall=yes ;;
    -h|--help) usage ;;
    -*) echo "install.sh: unknown option $arg" >&2; usage ;;
    *) [ -z "$repo" ] || usage; repo=$arg ;;
  esac
done
project=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# With no argument: a new local bare repository in the project folder.
[ -n "$repo" ] || repo="$project/demo.git"

node=$(command -v node) || die "Node.js is not on the PATH; install Node.js 20 or newer"
node_major=$("$node" -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "Node.js $("$node" --version) is too old; prodgate needs 20 or newer"
command -v git >/dev/null || die "git is not on the PATH; install git 2.38 or newer"
git_version=$(git --version | sed 's/[^0-9.]*\([0-9]*\.[0-9]*\).*/\1/')
[ "$(printf '%s\n2.38\n' "$git_version" | sort -V | head -n1)" = "2.38" ] || die "git $git_version is too old; prodgate needs 2.38 or newer (merge-tree --write-tree)"

if [ "$uninstall" = yes ]; then
  [ -d "$repo" ] || die "$repo does not exist"
  exec "$node" "$project/dist/prodgate.cjs" --repo "$repo" teardown
fi

# Dependencies and build, only when needed.
if [ ! -d "$project/node_modules/better-sqlite3" ] || [ ! -d "$project/node_modules/esbuild" ]; then
  echo "installing dependencies (better-sqlite3 compiles from source: about two minutes)"
  (cd "$project" && npm ci --no-audit --no-fund)
fi
if [ ! -f "$project/dist/prodgate.cjs" ] || [ -n "$(find "$project/src" "$project/build.mjs" -newer "$project/dist/prodgate.cjs" -print -quit)" ]; then
  echo "building"
  (cd "$project" && npm run --silent build)
fi

if [ ! -e "$repo" ]; then
  git init --quiet --bare --initial-branch=devel "$repo"
  echo "created bare repository $repo"
fi
git -C "$repo" rev-parse --git-dir >/dev/null 2>&1 || die "$repo is not a git repository"

"$node" "$project/dist/prodgate.cjs" --repo "$repo" setup --project "$project" --node "$node"

# Put prodgate on the PATH where we may.
link=/usr/local/bin/prodgate
if [ "$(readlink "$link" 2>/dev/null)" != "$project/bin/prodgate" ]; then
  if [ -w "$(dirname "$link")" ] && { [ ! -e "$link" ] || [ -L "$link" ]; }; then
    ln -sfn "$project/bin/prodgate" "$link"
    echo "linked $link"
  else
    echo "prodgate is at $project/bin/prodgate (add it to your PATH)"
  fi
fi

"$node" "$project/dist/prodgate.cjs" --repo "$repo" doctor
