# Shared by both prodgate hooks; install.sh copies it into each, so an
# installed hook needs no other file to decide that a push is not governed.
#
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
# files). `git config` output is kept in prodgate/hook-config and reused while
# it is newer than the repository's config file, so a change there makes the
# next push read the configuration again.
gd=${GIT_DIR:-.}
stamp="$gd/prodgate/hook-config.v2"
if [ -f "$stamp" ] && [ "$stamp" -nt "$gd/config" ] && [ -z "${GIT_CONFIG_PARAMETERS-}${GIT_CONFIG_COUNT-}" ]; then
	read_config <"$stamp"
else
	# The mark's time is taken before git reads the files: one changed meanwhile
	# is not older than the stamp, so it is read again next time.
	mark="$stamp.$$"
	{ true >"$mark"; } 2>/dev/null || mark=
	config=$(git config --local --includes --get-regexp '^(prodgate\.(develbranch|stablebranch|productionstablebranch|productiondevelbranch|governed|reportpath)|include\..*|includeif\..*)$' 2>/dev/null)
	read_config <<CONFIG
$config
CONFIG
	if [ -n "$mark" ]; then
		# Included files are not watched: with includes, git config runs every time.
		if [ -z "$included" ] && printf '%s\n' "$config" >"$mark.v" && touch -r "$mark" "$mark.v"; then
			mv -f "$mark.v" "$stamp"
		fi
		rm -f "$mark" "$mark.v"
	fi
fi

input=
while read -r old new ref || [ -n "$old" ]; do
	input="$input$old $new $ref
"
	case "$ref" in
	refs/tags/qa/* | refs/tags/ci/*) governed=yes other=yes ;;
	refs/heads/*)
		for name in $names; do
			if [ "$ref" = "refs/heads/$name" ]; then
				governed=yes
				[ "$name" = "$develname" ] || other=yes
			fi
		done
		;;
	esac
done


# While Node starts (about 50 ms), a hook can ask git, on the other core, what
# the engine is going to ask. Each answer is three files in prodgate/prefetch/,
# named after the hook's process: <pid>.N.q (the question: git's arguments,
# each ended by \037, the commands of a pipeline apart by \036), <pid>.N.out
# and <pid>.N.status. The questions are those of src/git/repo.ts (queries); the
# engine asks again whatever is missing, and removes the files.
format='--format=%m%H%x1f%P%x1f%B'
answers="$gd/prodgate/prefetch/$$"
[ -d "$gd/prodgate/prefetch" ] || answers=
n=0
ask() {
	n=$((n + 1))
	printf '%s\037' "$@" >"$answers.$n.q"
	git "$@" >"$answers.$n.out" 2>/dev/null
	echo $? >"$answers.$n.status"
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
	umask 077
	unset NODE_EXTRA_CA_CERTS
	{
		printf '%s\n' "$input"
		if [ -n "$answers" ]; then "$2" >/dev/null 2>&1; fi
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
receive=
receive_of
