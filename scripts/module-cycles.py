#!/usr/bin/env python3
"""Import circles between the modules of each crate: prints every strongly connected group of
two or more modules (a module here is a file under src/, named by its path: `training::run`),
and exits 1 when there is one.

    scripts/module-cycles.py [CRATE_DIR...]      (default: every crate under crates/)

A module points at another when it names it in a `use` (or a path) starting with `crate::` or
`super::`. Tests (`mod tests` blocks and tests/) are left out: they may reach anywhere.
"""
import os, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def modules(src: Path):
    """Module path -> file, for every .rs file under src."""
    out = {}
    for f in src.rglob("*.rs"):
        rel = f.relative_to(src).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] in ("mod", "lib", "main"):
            parts = parts[:-1]
        out["::".join(parts)] = f
    return out


def code_without_tests(text: str) -> str:
    """The file's text up to its `#[cfg(test)] mod tests` block, without comments."""
    cut = re.search(r"#\[cfg\(test\)\]\s*mod \w+\s*\{", text)
    if cut:
        text = text[: cut.start()]
    return re.sub(r"//[^\n]*", "", text)


def targets(name: str, text: str, known):
    """Modules that `name` names through crate:: or super:: paths."""
    here = name.split("::") if name else []
    found = set()
    for m in re.finditer(r"\b(crate|super)((?:::\w+)+)", text):
        base = [] if m.group(1) == "crate" else here[:-1]
        path = base + m.group(2).strip(":").split("::")
        for n in range(len(path), 0, -1):  # the longest prefix that is a module
            cand = "::".join(path[:n])
            if cand in known and cand != name and not name.startswith(cand + "::") and cand:
                found.add(cand)
                break
    # `use crate::{a, b::c}` groups
    for m in re.finditer(r"\buse (crate|super)::\{([^;]*)\};", text, re.S):
        base = [] if m.group(1) == "crate" else here[:-1]
        for item in re.split(r"[,{}]", m.group(2)):
            first = item.strip().split("::")[0]
            cand = "::".join(base + [first]) if first else ""
            if cand in known and cand != name and not name.startswith(cand + "::"):
                found.add(cand)
    return found


def cycles(graph):
    """Tarjan's strongly connected components with more than one node."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def main():
    crates = [Path(a) for a in sys.argv[1:]] or sorted((ROOT / "crates").iterdir())
    bad = 0
    for crate in crates:
        src = crate / "src"
        if not src.is_dir():
            continue
        mods = modules(src)
        graph = {n: targets(n, code_without_tests(f.read_text()), mods) for n, f in mods.items()}
        found = cycles(graph)
        for c in found:
            print(f"{crate.name}: {' <-> '.join(c)}")
            for a in c:
                print(f"    {a or '(root)'} -> {', '.join(sorted(t for t in graph[a] if t in c))}")
        bad += len(found)
        if not found:
            print(f"{crate.name}: no import circle ({len(mods)} modules)")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
