# Shared by both prodgate hooks; install.sh copies it into each, so an
# installed hook needs no other file to decide that a push is not governed.

# Every git process the shims start runs hardened: replace refs and grafts
# off, only the repository's own configuration. These two lines must agree
# with src/git/env.ts, the engine's definition (test/unit/git-env.test.ts
# compares them; GIT_CONFIG_KEY_<n>/VALUE_<n>, which the engine drops too,
# mean nothing without GIT_CONFIG_COUNT). A chained earlier hook still gets
# the environment it had (see unharden).
hardened_saved=
for v in GIT_NO_REPLACE_OBJECTS GIT_GRAFT_FILE GIT_CONFIG_NOSYSTEM GIT_CONFIG_GLOBAL GIT_CONFIG_PARAMETERS GIT_CONFIG_COUNT GIT_CONFIG; do
	eval "[ -z \"\${$v+set}\" ] || hardened_saved=\"\$hardened_saved $v\" hardened_was_$v=\$$v"
done
export GIT_NO_REPLACE_OBJECTS=1 GIT_GRAFT_FILE=/dev/null/prodgate-no-grafts GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
unset GIT_CONFIG_PARAMETERS GIT_CONFIG_COUNT GIT_CONFIG
# Back to the environment the hook was started with (in a subshell, for a chained hook).
unharden() {
	unset GIT_NO_REPLACE_OBJECTS GIT_GRAFT_FILE GIT_CONFIG_NOSYSTEM GIT_CONFIG_GLOBAL
	for v in $hardened_saved; do eval "$v=\$hardened_was_$v; export $v"; done
}

# Sets: names (branch names that may be governed: the defaults plus every
# configured name, so an invalid or empty value cannot hide a default branch),
# develname, stablename, prodname, pdevname, extra (prodgate.governed patterns
# exist), report (a report path is configured), input (the hook's stdin), governed (the push touches a governed
# ref), other (it touches a governed ref other than devel).
names='devel stable production-stable production-devel' governed= other= extra= report= included=
develname=devel stablename=stable prodname=production-stable pdevname=production-devel
read_config() {
	while read -r key value; do
		case "$key" in
		prodgate.develbranch) names="$names $value" develname=$value ;;
		prodgate.stablebranch) names="$names $value" stablename=$value ;;
		prodgate.productionstablebranch) names="$names $value" prodname=$value ;;
		prodgate.productiondevelbranch) names="$names $value" pdevname=$value ;;
		prodgate.governed) extra=yes ;;
		prodgate.reportpath) report=yes ;;
		include.* | includeif.*) included=yes ;;
		esac
	done
}

# Only the repository's own configuration counts (never global or system
# files). `git config`'s answer is kept in prodgate/hook-config.v3 together
# with a copy of the config file's text it was read from, and reused only
# while the file's text is exactly that copy: reading the file is a shell
# builtin, so the usual push still starts no process. The text is taken
# before git reads the file, so a change made meanwhile is read again next
# time. Included files are not copied: with an include, git config runs every
# time. When git config fails, the engine decides (and fails closed).
gd=${GIT_DIR:-.}
stamp="$gd/prodgate/hook-config.v3"
# The config file's text, each line behind a "|" (so no line of it reads as
# the "=" that ends the copy in the cache), or nothing when it cannot be read.
text=
{
	while IFS= read -r line || [ -n "$line" ]; do
		text="$text|$line
"
	done <"$gd/config"
} 2>/dev/null || text=
fresh=
if [ -n "$text" ] && [ -f "$stamp" ]; then
	{
		copy=
		while IFS= read -r line; do
			[ "$line" != "=" ] || break
			copy="$copy$line
"
		done
		if [ "$copy" = "$text" ]; then
			read_config
			fresh=yes
		fi
	} <"$stamp" 2>/dev/null
fi
if [ -z "$fresh" ]; then
	config=$(git config --local --includes --get-regexp '^(prodgate\.(develbranch|stablebranch|productionstablebranch|productiondevelbranch|governed|reportpath)|include\..*|includeif\..*)$' 2>/dev/null)
	case $? in
	0 | 1) unread= ;;
	*) unread=yes extra=yes ;;
	esac
	read_config <<CONFIG
$config
CONFIG
	# Included files are not copied: with includes, git config runs every time.
	if [ -n "$text" ] && [ -z "$included" ] && [ -z "$unread" ] && { printf '%s=\n%s\n' "$text" "$config" >"$stamp.$$"; } 2>/dev/null; then
		mv -f "$stamp.$$" "$stamp" 2>/dev/null || rm -f "$stamp.$$"
	fi
fi

input=
while read -r old new ref || [ -n "$old" ]; do
	input="$input$old $new $ref
"
	case "$ref" in
	# A ref that would keep a governed one from being created (git cannot hold a and a/b): the engine refuses it.
	refs/tags/qa/* | refs/tags/ci/* | refs/tags/deploy/* | refs/tags/qa | refs/tags/ci | refs/tags/deploy) governed=yes other=yes ;;
	refs/heads/*)
		for name in $names; do
			if [ "$ref" = "refs/heads/$name" ]; then
				governed=yes
				[ "$name" = "$develname" ] || other=yes
			fi
			case "$ref" in "refs/heads/$name"/*) governed=yes other=yes ;; esac
			case "refs/heads/$name" in "$ref"/*) governed=yes other=yes ;; esac
		done
		;;
	esac
	# A push to a symbolic ref moves the ref it points at, and the hooks see
	# only the alias's name: the engine judges it as its target. A symbolic
	# ref is a loose file "ref: <target>" (packed-refs cannot hold one).
	if [ -f "$gd/$ref" ]; then
		sym=
		{ read -r sym || :; } 2>/dev/null <"$gd/$ref"
		case "$sym" in "ref:"*) governed=yes other=yes ;; esac
	fi
done


# While Node starts (about 50 ms), a hook can ask git, on the other core, what
# the engine is going to ask. Each answer is three files in prodgate/prefetch/,
# named after the hook's process: <pid>.N.q (the question: git's arguments,
# each ended by \037, the commands of a pipeline apart by \036), <pid>.N.out
# and <pid>.N.status; <pid>.n, written last, says how many answers this run
# finished (answers 1..n), so files left by an earlier process of the same
# pid are never taken. The questions are those of src/git/repo.ts (queries),
# asked in the same hardened environment as the engine's; the engine takes
# an answer only for exactly its question, and asks again whatever is
# missing, and removes the files. An answer whose files cannot all be
# written ends the run: it and any later one are asked again by the engine.
format='--format=%m%H%x1f%P%x1f%B'
answers="$gd/prodgate/prefetch/$$"
[ -d "$gd/prodgate/prefetch" ] || answers=
n=0 unanswered=
ask() {
	[ -z "$unanswered" ] || return 0
	asked=
	{ printf '%s\037' "$@" >"$answers.$((n + 1)).q" && { git "$@" 2>/dev/null; asked=$?; } >"$answers.$((n + 1)).out"; } 2>/dev/null
	answered
}
# The end of an answer whose git finished with status $asked (empty: it never ran).
answered() {
	if [ -n "$asked" ] && { echo "$asked" >"$answers.$((n + 1)).status"; } 2>/dev/null; then
		n=$((n + 1))
	else
		unanswered=yes
	fi
}
# How many answers this run finished: the engine reads it once its input ends.
answers_done() {
	{ echo "$n" >"$answers.n"; } 2>/dev/null
}
# The branches' tips, then stable's mainline that production-stable lacks,
# asked by the shas just read (never by a branch name again), exactly as the
# engine asks it: one snapshot of the refs per decision.
sha_of() {
	case $1 in *[!0-9a-f]* | '') return 1 ;; esac
	[ ${#1} -eq 40 ] || [ ${#1} -eq 64 ]
}
ask_mainline() {
	baseline= stable= prod= st=
	if [ -f "$gd/prodgate/baseline" ]; then read -r baseline <"$gd/prodgate/baseline" || :; fi
	ask for-each-ref '--format=%(refname)%00%(objectname)' -- "refs/heads/$develname" "refs/heads/$stablename" "refs/heads/$prodname" "refs/heads/$pdevname"
	[ -z "$unanswered" ] || return 0
	read -r st <"$answers.$n.status" || return 0
	[ "$st" = 0 ] || return 0
	# Each line is <ref>NUL<sha>; the shell's read drops the NUL.
	while IFS= read -r line || [ -n "$line" ]; do
		case $line in "refs/heads/$stablename"*) ! sha_of "${line#"refs/heads/$stablename"}" || stable=${line#"refs/heads/$stablename"} ;; esac
		case $line in "refs/heads/$prodname"*) ! sha_of "${line#"refs/heads/$prodname"}" || prod=${line#"refs/heads/$prodname"} ;; esac
	done <"$answers.$n.out"
	[ -n "$stable" ] || return 0
	sha_of "$baseline" || baseline=
	ask log -z --first-parent --boundary "$format" "$stable" --not ${prod:+"$prod"} ${baseline:+"$baseline"} --
}

# Start the engine for hook $1 with the push on its stdin, followed by the
# answers function $2 asks git for while Node starts; Node reads until it is
# done. What the shim and the engine write from here is theirs alone to read.
# The hooks make no TLS connection, and Node reads NODE_EXTRA_CA_CERTS at every
# start (about 40 ms on a system bundle): it is dropped for prodgate alone.
run_engine() {
	[ -n "$receive" ] || receive_of
	umask 077
	unset NODE_EXTRA_CA_CERTS
	# No count until this run's answers are done: one left by an earlier
	# process of this pid must not vouch for them.
	if [ -n "$answers" ]; then { echo 0 >"$answers.n"; } 2>/dev/null || answers=; fi
	{
		printf '%s\n' "$input"
		if [ -n "$answers" ]; then
			"$2" >/dev/null 2>&1
			answers_done
		fi
	} | PRODGATE_PREFETCH=$answers PRODGATE_RECEIVE=$receive "$PRODGATE_NODE" "$PRODGATE_MAIN" hook "$1"
}

# The receive-pack process that runs both hooks of one push, as
# "<pid>-<start time>" (/proc/<pid>/stat, field 22), with shell builtins only:
# it tells the push's audit rows apart from those of any other push, even one
# with the same lines. Empty where there is no /proc.
receive_of() {
	rstat=
	{ read -r rstat <"/proc/$PPID/stat"; } 2>/dev/null || return 0
	rstat=${rstat##*) }
	# shellcheck disable=SC2086 # split on purpose (set -f is on)
	set -- $rstat
	[ $# -ge 20 ] || return 0
	case "$PPID${20}" in *[!0-9]*) return 0 ;; esac
	receive="$PPID-${20}"
}
# Asked only by a push prodgate governs (run_engine, the quiet note): reading
# /proc costs a system call per byte in the shell.
receive=
