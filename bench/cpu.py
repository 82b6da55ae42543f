# Runs a command, then prints its wall time and CPU time in milliseconds as a last line of stdout:
# "prodgate-bench-cpu <wall> <cpu>".
# CPU time is user+sys of every process the command started and waited for (git push, receive-pack,
# the hooks, Node, the git processes they ran), taken from wait4's rusage: load on the machine
# stretches wall time but leaves CPU time nearly alone. Used by bench/run.mjs.
#   python3 bench/cpu.py <command> [args...]
import os, sys, time

if len(sys.argv) < 2:
    sys.exit("usage: python3 bench/cpu.py <command> [args...]")
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[1], sys.argv[1:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
wall = (time.perf_counter() - start) * 1000
cpu = (usage.ru_utime + usage.ru_stime) * 1000
sys.stdout.flush()
print(f"\nprodgate-bench-cpu {wall:.3f} {cpu:.3f}")
sys.exit(os.waitstatus_to_exitcode(status))
