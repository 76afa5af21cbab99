#!/usr/bin/env python3
"""Finds import cycles between the source files of the project's Rust crates.

A file depends on another when one of its paths (a `use`, a `pub use`, or a path written in the
code, such as `crate::format::parse_header(..)` or `super::Section`) names an item that the other
file defines or re-exports. Declaring a child module (`mod x;`) is not a dependency. Two files
that depend on each other, directly or through others, are a cycle: neither can be read, changed
or tested without the other. Test modules (`#[cfg(test)] mod tests`) and comments are left out.

Usage: scripts/import-cycles.py [CRATE_SRC_ROOT...]   (default: every crate in the repository)
Exit status 1 and one line per cycle when there is one.
"""

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SKIP_DIRS = {"target", "third_party", ".git", "node_modules", ".venv"}

MOD_DECL = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;")
MOD_INLINE = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*\{")
USE = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?use\s+([^;]*);", re.S)
USE_START = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?use\s")
PATH = re.compile(r"\b((?:crate|super|self)(?:::\w+)+)")


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', text)


def crate_roots():
    for manifest in sorted(REPO.rglob("Cargo.toml")):
        if SKIP_DIRS & set(manifest.relative_to(REPO).parts):
            continue
        src = manifest.parent / "src"
        for root in ("lib.rs", "main.rs"):
            if (src / root).exists():
                yield src / root
        yield from sorted((src / "bin").glob("*.rs"))


def module_tree(root):
    """Maps each module path (tuple) to its file, following `mod x;` declarations."""
    files = {(): root}
    stack = [((), root)]
    while stack:
        path, file = stack.pop()
        owns_folder = file.name in ("lib.rs", "main.rs", "mod.rs")
        directory = file.parent if owns_folder else file.with_suffix("")
        declared = map(MOD_DECL.match, strip_comments(file.read_text()).splitlines())
        for name in [m.group(1) for m in declared if m]:
            for child in (directory / f"{name}.rs", directory / name / "mod.rs"):
                if child.exists():
                    files[path + (name,)] = child
                    stack.append((path + (name,), child))
                    break
    return files


def expand_use(tree):
    """`a::{b, c::d}` -> ['a::b', 'a::c::d']."""
    tree = re.sub(r"\s+", "", tree)
    depth, start = 0, None
    for i, ch in enumerate(tree):
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                prefix, inner = tree[:start], tree[start + 1 : i]
                parts, level, last = [], 0, 0
                for j, c in enumerate(inner + ","):
                    if c in "{":
                        level += 1
                    elif c == "}":
                        level -= 1
                    elif c == "," and level == 0:
                        if inner[last:j]:
                            parts.append(inner[last:j])
                        last = j + 1
                return [p for part in parts for p in expand_use(prefix + part)]
    return [re.sub(r"\bas\b.*$", "", tree.replace("::*", ""))]


def code_paths(file):
    """(inline-module prefix, path) for every path in the file outside test modules."""
    lines = strip_comments(file.read_text()).splitlines()
    inline, depth, skip_until, cfg_test = [], 0, None, False
    statement = ""
    for line in lines:
        opens, closes = line.count("{"), line.count("}")
        if skip_until is not None:
            depth += opens - closes
            if depth <= skip_until:
                skip_until = None
            continue
        if re.match(r"^\s*#\[cfg\(test\)\]", line):
            cfg_test = True
            continue
        m = MOD_INLINE.match(line)
        if m:
            if cfg_test:
                skip_until = depth
                depth += opens - closes
                cfg_test = False
                continue
            inline.append((m.group(1), depth))
        elif line.strip() and not line.strip().startswith("#["):
            cfg_test = False
        depth += opens - closes
        while inline and depth <= inline[-1][1]:
            inline.pop()
        prefix = tuple(name for name, _ in inline)
        if statement or USE_START.match(line):
            statement += " " + line
            if ";" in statement:
                for path in expand_use(USE.match(statement).group(1)):
                    yield prefix, path
                statement = ""
            continue
        for path in PATH.findall(line):
            yield prefix, path


def resolve(files, module, path):
    """The file that defines or re-exports what `path`, written in `module`, names; None for a
    path outside the crate."""
    parts = path.split("::")
    if parts[0] not in ("crate", "super", "self"):
        # 2018 paths: a child module's name, or another crate's.
        if module + (parts[0],) not in files:
            return None
        parts = ["self"] + parts
    if parts[0] == "crate":
        base, rest = (), parts[1:]
    else:
        base, rest = module, parts
        while rest and rest[0] in ("super", "self"):
            if rest[0] == "super":
                base = base[:-1]
            rest = rest[1:]
    target = base
    for part in rest:
        if target + (part,) in files:
            target = target + (part,)
        else:
            break
    while target not in files:
        target = target[:-1]
    return files[target]


def cycles(root):
    files = module_tree(root)
    module_of = {file: path for path, file in files.items()}
    edges = {file: set() for file in files.values()}
    for file, module in module_of.items():
        for prefix, path in code_paths(file):
            target = resolve(files, module + prefix, path)
            if target is not None and target != file:
                edges[file].add(target)
    # Tarjan's strongly connected components.
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return len(files), found


def main():
    roots = [Path(a).resolve() for a in sys.argv[1:]] or list(crate_roots())
    total_files, failed = 0, False
    for root in roots:
        count, found = cycles(root)
        total_files += count
        for component in found:
            failed = True
            names = ", ".join(str(f.relative_to(REPO)) for f in component)
            print(f"import cycle: {names}")
    print(f"import cycles: {len(roots)} crates, {total_files} files checked", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
