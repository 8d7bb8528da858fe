#!/usr/bin/env python3
"""Finds import cycles between the modules (files) of each crate in the workspace.

A module depends on another when it names it in a path: `use crate::a::b`, `super::x`,
`self::y::z`, or such a path in code. Declaring a child (`mod x;`) is not a dependency.
Cycles (strongly connected components of more than one module) are printed and make the
exit status 1. Usage: tools/module_cycles.py [crates-dir]
"""
import os
import re
import sys

PATH = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)*)(::\{([^;]*?)\})?")


def modules(src):
    """Module path (tuple) -> file, for every .rs file under src."""
    out = {}
    for root, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(root, f), src)[:-3].split(os.sep)
            if rel[-1] in ("lib", "main", "mod"):
                rel = rel[:-1]
            if "tests" in rel:
                continue  # unit tests may use anything
            out[tuple(rel)] = os.path.join(root, f)
    return out


def strip(text):
    """The code without comments, strings, visibilities and `#[cfg(test)] mod tests { ... }`."""
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"pub\((crate|super|self)\)", "pub", text)
    text = re.sub(r'"(\\.|[^"\\])*"', '""', text)
    cut = re.search(r"#\[cfg\(test\)\]\s*mod tests\s*\{", text)
    return text[: cut.start()] if cut else text


def owner(mods, path, reexports):
    """The deepest module that `path` (a tuple of segments) names or lies in; an item the
    crate root re-exports (`pub use a::b::Item;`) lies in the module that defines it."""
    if len(path) >= 1 and path[0] in reexports:
        if reexports[path[0]] is None:
            return None  # another crate, re-exported under a name of this one
        path = reexports[path[0]] + path[1:]
    while path and path not in mods:
        path = path[:-1]
    return path


def root_reexports(mods):
    """`pub use a::b::{X, Y};` at the crate root: X -> ('a', 'b')."""
    out = {}
    code = strip(open(mods[()]).read()) if () in mods else ""
    for m in re.finditer(r"pub use (\w+) as (\w+)\s*;", code):
        if (m.group(1),) not in mods:
            out[m.group(2)] = None
    for m in re.finditer(r"pub use ([\w:]+?)(?:::\{([^}]*)\}|::(\w+))\s*;", code):
        base = tuple(s for s in m.group(1).split("::") if s and s != "crate")
        names = [n.strip().split(" as ")[-1] for n in (m.group(2) or m.group(3)).split(",") if n.strip()]
        for n in names:
            if base + (n,) not in mods:
                out[n] = base
    return out


def expand(group):
    """`{a, b::c, d::{e, f}}` -> ['a', 'b::c', 'd']: first levels are enough here."""
    depth, item, items = 0, "", []
    for ch in group:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(item)
            item = ""
            continue
        if depth == 0:
            item += ch
    items.append(item)
    return [i.strip().split(" as ")[0] for i in items if i.strip()]


def edges(mods):
    graph = {m: set() for m in mods}
    reexports = root_reexports(mods)
    for here, file in mods.items():
        code = strip(open(file).read())
        # Paths that start at a child module: `use child::Item`, `child::function()`.
        # Re-exports (`pub use child::X;`) are not dependencies of the re-exporting module.
        uses = re.sub(r"pub use [^;]*;|\bmod\s+\w+\s*;", "", code)
        for child in re.findall(r"\bmod\s+([A-Za-z_][A-Za-z0-9_]*)\s*;", code):
            for m in re.finditer(r"(?<![:\w])" + child + r"((?:::[A-Za-z_][A-Za-z0-9_]*)*)", uses):
                path = here + (child,) + tuple(s for s in m.group(1).split("::") if s)
                dep = owner(mods, path, {})
                if dep is not None and dep != here:
                    graph[here].add(dep)
        # A file module's `super` is its parent; `self` is itself.
        for m in PATH.finditer(code):
            head, tail, group = m.group(1), m.group(2), m.group(4)
            base = {"crate": (), "self": here, "super": here[:-1]}[head]
            segments = [s for s in tail.split("::") if s]
            while segments and segments[0] == "super":
                base, segments = base[:-1], segments[1:]
            targets = [base + tuple(segments)]
            if group is not None:
                targets = [base + tuple(segments) + tuple(i.split("::")) for i in expand(group)]
            for t in targets:
                dep = owner(mods, t, reexports if head == "crate" or base == () else {})
                # A module naming its own descendants, or itself, is not a cycle risk.
                if dep is not None and dep != here:
                    graph[here].add(dep)
    return graph


def cycles(graph):
    """Tarjan's strongly connected components with more than one member."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
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
                out.append(comp)

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def main():
    crates = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "crates")
    found = False
    for name in sorted(os.listdir(crates)):
        src = os.path.join(crates, name, "src")
        if not os.path.isdir(src):
            continue
        graph = edges(modules(src))
        for comp in cycles(graph):
            found = True
            names = sorted("::".join(m) or "(crate root)" for m in comp)
            print(f"{name}: import cycle between {', '.join(names)}")
            for m in sorted(comp):
                deps = sorted("::".join(d) or "(crate root)" for d in graph[m] if d in comp)
                print(f"    {'::'.join(m) or '(crate root)'} -> {', '.join(deps)}")
    if not found:
        print("no import cycles between modules")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
