#!/usr/bin/env python3
"""Generate a reproducible, web-app-like source tree for bench/release-bench.sh.

usage: gentree.py DIR [--files N] [--mib M] [--dirs D] [--seed S]

The same arguments always give the same tree (names, sizes, modes, bytes):
  * D nested directories (depth up to 7), shaped like vendor/ and node_modules/
    trees: a directory's parent is picked with a bias to shallow ones.
  * N regular files spread unevenly over them (a few directories hold a
    hundred files, most hold a handful).
  * sizes: ~1.5% empty files, ~2% byte-identical copies of another file
    (LICENSE-like), the rest log-normal around 2.5 KiB (capped at 512 KiB),
    plus 30 large files (images, bundles, fonts) that bring the total to
    exactly M MiB.
  * ~1% executable files (0755), and 40 relative symlinks to files.
Prints one summary line: files, directories, symlinks, bytes.
"""
import math
import os
import random
import sys


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        sys.exit(__doc__)
    root = args[0]
    opts = {"--files": 20000, "--mib": 200, "--dirs": 2000, "--seed": 42}
    i = 1
    while i < len(args):
        if args[i] not in opts or i + 1 >= len(args):
            sys.exit(__doc__)
        opts[args[i]] = int(args[i + 1])
        i += 2
    nfiles, total, ndirs = opts["--files"], opts["--mib"] << 20, opts["--dirs"]
    rng = random.Random(opts["--seed"])

    # directories: index 0 is the root; each new one hangs under an earlier one
    tops = ["app", "vendor", "public", "resources", "node_modules", "config", "lib", "tests"]
    words = ("src core util http cache model view lang dist esm cjs test fixtures "
             "assets css js img fonts icons admin api auth db events jobs mail "
             "policies providers routes support console contracts drivers "
             "middleware locale build types internal plugins themes").split()
    dirs = [""]
    depth = [0]
    for name in tops:
        dirs.append(name)
        depth.append(1)
    while len(dirs) < ndirs + 1:
        # prefer shallow parents: weight 1/(depth^2), capped depth 7
        p = rng.randrange(len(dirs))
        if depth[p] >= 7 or rng.random() > 1.0 / (1 + depth[p] * depth[p] * 0.35):
            continue
        if p == 0:
            continue
        name = "%s-%d" % (rng.choice(words), rng.randrange(1000)) if rng.random() < 0.5 \
            else rng.choice(words) + str(len(dirs))
        path = dirs[p] + "/" + name
        dirs.append(path)
        depth.append(depth[p] + 1)
    dirs = dirs[1:]  # the root holds no generated files of its own

    # uneven spread: Pareto-like weight per directory
    weights = [rng.paretovariate(1.3) for _ in dirs]
    exts = [".php"] * 30 + [".js"] * 25 + [".json"] * 8 + [".css"] * 6 + [".md"] * 6 + \
           [".html"] * 5 + [".svg"] * 5 + [".png"] * 5 + [".ts"] * 6 + [".yml"] * 2 + [".txt"] * 2
    chosen = rng.choices(range(len(dirs)), weights=weights, k=nfiles)

    nbig = min(30, max(1, nfiles // 500))
    files = []  # (path, size, mode, dup_of)
    used = set()
    for k in range(nfiles):
        d = dirs[chosen[k]]
        ext = rng.choice(exts)
        while True:
            name = "%s%s%s" % (rng.choice(words), rng.randrange(100000), ext)
            path = d + "/" + name
            if path not in used:
                used.add(path)
                break
        r = rng.random()
        if r < 0.015:
            size = 0
        else:
            size = min(int(math.exp(rng.gauss(math.log(2500), 1.3))), 512 << 10)
        mode = 0o755 if rng.random() < 0.01 else 0o644
        files.append([path, size, mode, None])

    # the big ones: every (nfiles // nbig)-th file becomes an asset bundle/image
    big_idx = list(range(0, nfiles, nfiles // nbig))[:nbig]
    for j in big_idx:
        files[j][0] = files[j][0].rsplit(".", 1)[0] + rng.choice([".png", ".jpg", ".woff2", ".js", ".map"])
        used.add(files[j][0])
    # ~2% duplicates of another small file's content
    bigs = set(big_idx)
    smalls = [j for j in range(nfiles) if j not in bigs and files[j][1] > 0]
    is_source = set()
    for j in rng.sample(smalls, k=nfiles // 50):
        src = rng.choice(smalls)
        if src != j and files[src][3] is None and j not in is_source:
            files[j][3] = src
            files[j][1] = files[src][1]
            is_source.add(src)
    small_total = sum(f[1] for j, f in enumerate(files) if j not in bigs)
    rest = total - small_total
    if rest < nbig:
        sys.exit("gentree: %d files of this size mix exceed %d MiB; raise --mib" % (nfiles, opts["--mib"]))
    shares = [rng.uniform(0.3, 1.7) for _ in big_idx]
    s = sum(shares)
    sizes = [int(rest * x / s) for x in shares]
    sizes[-1] += rest - sum(sizes)
    for j, size in zip(big_idx, sizes):
        files[j][1] = size

    os.makedirs(root, exist_ok=True)
    for d in dirs:
        os.makedirs(os.path.join(root, d), exist_ok=True)
    # bytes of a duplicated file are made once, when the first of its copies is written
    content = {}
    nbytes = 0
    for j, (path, size, mode, dup) in enumerate(files):
        key = dup if dup is not None else j
        data = content.get(key)
        if data is None:
            data = rng.randbytes(files[key][1])
            if key in is_source:
                content[key] = data
        full = os.path.join(root, path)
        with open(full, "wb") as f:
            f.write(data)
        os.chmod(full, mode)
        nbytes += len(data)
    nlinks = 0
    for j in rng.sample(range(nfiles), k=40):
        path = files[j][0]
        d, base = path.rsplit("/", 1)
        link = d + "/link-" + base
        if link in used:
            continue
        os.symlink(base, os.path.join(root, link))
        nlinks += 1
    print("%d files, %d directories, %d symlinks, %d bytes (%.1f MiB)"
          % (nfiles, len(dirs), nlinks, nbytes, nbytes / 1048576))


if __name__ == "__main__":
    main()
