# Compare what a push costs with two builds of prodgate (e.g. before and after a change):
#   git archive <old-commit> | tar -x -C /tmp/old && ln -s "$PWD/node_modules" /tmp/old/ && (cd /tmp/old && node build.mjs)
#   python3 bench/compare-push-cost.py /tmp/old . [N]
# Two sandboxes (one per build); devel pushes and qa/ok verdict-tag pushes (which run the mirror),
# interleaved old/new so machine load hits both alike. Per push: wall time and CPU time (user+sys of
# every process the push started, which load disturbs less than wall time).
import os, resource, statistics, subprocess, sys, tempfile, time
old, new = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]); N = int(sys.argv[3]) if len(sys.argv) > 3 else 20
root = tempfile.mkdtemp()
env = dict(os.environ, HOME=f"{root}/home", GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="A", GIT_AUTHOR_EMAIL="a@x",
           GIT_COMMITTER_NAME="A", GIT_COMMITTER_EMAIL="a@x")
os.makedirs(env["HOME"])
def sh(cmd, cwd=root, **kw):
    subprocess.run(cmd, cwd=cwd, env={**env, **kw}, check=True, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
def timed(cmd, cwd, **kw):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN); t0 = time.perf_counter()
    sh(cmd, cwd, **kw)
    t1 = time.perf_counter(); r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (t1 - t0) * 1000, ((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)) * 1000
for v, p in (("old", old), ("new", new)):
    sh(f"bash {p}/install.sh {root}/{v}.git")
    sh(f"git -C {root}/{v}.git config --add prodgate.roles.qa quinn")
    sh(f"git clone -q {root}/{v}.git {root}/{v}")
    sh('git checkout -q -b devel && echo 1 > f && git add f && git commit -qm "r1 [no-qa]" && git push -q origin HEAD:devel && git push -q origin HEAD:stable', f"{root}/{v}", GL_USER="dev")
res = {(v, k): [] for v in ("old", "new") for k in ("devel", "tag")}
for i in range(N):
    for v in (("old", "new") if i % 2 == 0 else ("new", "old")):
        w = f"{root}/{v}"
        sh(f'echo d{i} > f && git commit -qam "devel {i} [no-qa]"', w)
        res[(v, "devel")].append(timed("git push -q origin HEAD:devel", w, GL_USER="dev"))
        sh(f'echo s{i} > f && git commit -qam "stable {i}" && git push -q origin HEAD:devel && git push -q origin HEAD:stable && git tag qa/ok/b{i} HEAD', w, GL_USER="dev")
        res[(v, "tag")].append(timed(f"git push -q origin qa/ok/b{i}", w, GL_USER="quinn"))
        assert subprocess.run(["git", "-C", f"{root}/{v}.git", "rev-parse", "production-stable"], capture_output=True, text=True).stdout == \
               subprocess.run(["git", "-C", w, "rev-parse", "HEAD"], capture_output=True, text=True).stdout, f"{v}: mirror did not move"
for k in ("devel", "tag"):
    o, n = res[("old", k)], res[("new", k)]
    med = lambda xs, j: statistics.median(x[j] for x in xs)
    print(f"{k:5}: wall median old {med(o,0):6.1f} ms, new {med(n,0):6.1f} ms | CPU median old {med(o,1):6.1f} ms, new {med(n,1):6.1f} ms, paired CPU diff median {statistics.median(b[1]-a[1] for a, b in zip(o, n)):+.1f} ms (N={N})")
subprocess.run(["rm", "-rf", root])
