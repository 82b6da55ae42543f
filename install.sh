#!/usr/bin/env bash
# Install prodgate on a bare repository (created when absent), or remove it.
#   ./install.sh [<path-to-bare-repo>]          install (running it again changes nothing; default ./demo.git)
#   ./install.sh --uninstall <path-to-bare-repo> remove prodgate's hooks, restore earlier ones
#   ./install.sh --bzr <dir>                     a Bazaar shared repository (created when absent),
#                                                served with: prodgate --repo <dir> serve-bzr
set -euo pipefail

usage() { echo "usage: $0 [--uninstall] [<path-to-bare-repo>] | --bzr <dir>" >&2; exit 2; }
die() { echo "install.sh: $*" >&2; exit 1; }

uninstall=no
bzr=no
repo=
for arg in "$@"; do
  case "$arg" in
    --uninstall) uninstall=yes ;;
    --bzr) bzr=yes ;;
    -h|--help) usage ;;
    -*) echo "install.sh: unknown option $arg" >&2; usage ;;
    *) [ -z "$repo" ] || usage; repo=$arg ;;
  esac
done
project=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# With no argument: a new local bare repository in the project folder.
[ -n "$repo" ] || { [ "$bzr" = no ] || usage; repo="$project/demo.git"; }

node=$(command -v node) || die "Node.js is not on the PATH; install Node.js 20 or newer"
node_major=$("$node" -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "Node.js $("$node" --version) is too old; prodgate needs 20 or newer"
command -v git >/dev/null || die "git is not on the PATH; install git 2.38 or newer"
git_version=$(git --version | sed 's/[^0-9.]*\([0-9]*\.[0-9]*\).*/\1/')
[ "$(printf '%s\n2.38\n' "$git_version" | sort -V | head -n1)" = "2.38" ] || die "git $git_version is too old; prodgate needs 2.38 or newer (merge-tree --write-tree)"

[ "$bzr$uninstall" != yesyes ] || die "--uninstall is for git repositories; a Bazaar repository is served only through prodgate serve-bzr"

if [ "$uninstall" = yes ]; then
  [ -d "$repo" ] || die "$repo does not exist"
  exec "$node" "$project/dist/prodgate.cjs" --repo "$repo" teardown
fi

# Dependencies and build, only when needed.
if [ ! -d "$project/node_modules/better-sqlite3" ] || [ ! -d "$project/node_modules/esbuild" ] || [ ! -d "$project/node_modules/nodemailer" ]; then
  echo "installing dependencies (better-sqlite3 compiles from source: about two minutes)"
  (cd "$project" && npm ci --no-audit --no-fund)
fi
if [ ! -f "$project/dist/prodgate.cjs" ] || [ ! -f "$project/dist/hook.cjs" ] || [ ! -f "$project/dist/mail.cjs" ] || [ ! -f "$project/dist/hook-engine.cjs" ] || [ -n "$(find "$project/src" "$project/build.mjs" -newer "$project/dist/hook.cjs" -print -quit)" ]; then
  echo "building"
  (cd "$project" && npm run --silent build)
fi

link_command() {
  link=/usr/local/bin/prodgate
  if [ "$(readlink "$link" 2>/dev/null)" != "$project/bin/prodgate" ]; then
    if [ -w "$(dirname "$link")" ] && { [ ! -e "$link" ] || [ -L "$link" ]; }; then
      ln -sfn "$project/bin/prodgate" "$link"
      echo "linked $link"
    else
      echo "prodgate is at $project/bin/prodgate (add it to your PATH)"
    fi
  fi
}

if [ "$bzr" = yes ]; then
  if ! command -v brz >/dev/null; then
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || die "brz is not installed; install Debian's brz package (apt-get install brz), then run this again"
    echo "installing brz"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq brz >/dev/null
  fi
  if [ ! -d "$repo/.bzr" ]; then
    brz init-shared-repo --no-trees --quiet "$repo"
    echo "created Bazaar shared repository $repo"
  fi
  [ -d "$repo/.bzr/repository" ] && [ ! -d "$repo/.bzr/branch" ] || die "$repo is not a Bazaar shared repository"
  cfg="${repo%/}.prodgate/config"; [ -f "$cfg" ] || cfg="$repo/.bzr/prodgate/config"
  branch_name() { { [ -f "$cfg" ] && GIT_CONFIG="$cfg" git config --get "prodgate.$1"; } || echo "$2"; }
  for b in "$(branch_name develBranch devel)" "$(branch_name stableBranch stable)" \
    "$(branch_name productionStableBranch production-stable)" "$(branch_name productionDevelBranch production-devel)"; do
    if [ ! -d "$repo/$b/.bzr" ]; then
      brz init --quiet "$repo/$b"
      echo "created branch $repo/$b"
    fi
  done
  "$node" "$project/dist/prodgate.cjs" --repo "$repo" setup-bzr
  link_command
  exec "$node" "$project/dist/prodgate.cjs" --repo "$repo" doctor
fi

if [ ! -e "$repo" ]; then
  git init --quiet --bare --initial-branch=devel "$repo"
  echo "created bare repository $repo"
fi
git -C "$repo" rev-parse --git-dir >/dev/null 2>&1 || die "$repo is not a git repository"
if [ "$(git -C "$repo" rev-parse --is-bare-repository 2>/dev/null)" = "false" ]; then
  echo "warning: $repo is a working clone, not a bare repository: prodgate's hooks guard the server's repository that people push to; installing here only checks pushes into this clone" >&2
fi

"$node" "$project/dist/prodgate.cjs" --repo "$repo" setup --project "$project" --node "$node"

# Put prodgate on the PATH where we may.
link_command

"$node" "$project/dist/prodgate.cjs" --repo "$repo" doctor
