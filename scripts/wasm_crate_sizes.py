#!/usr/bin/env python3
"""Where a WebAssembly module's code goes, by Rust crate: the size of each function body in
the code section, named by the module's `name` section and grouped by the first path
segment of its demangled name (`cubecl_std`, `burn_flex`, ...; trait impls by their type's
crate, `<T as x>` shims on their own line).

Needs a module that still has its name section: cargo's output before wasm-bindgen, e.g.

    web/build.sh   # or MODULES=webgpu web/build.sh
    python3 scripts/wasm_crate_sizes.py target/wasm32-unknown-unknown/wasm-release/ring_wgpu_web.wasm

(cargo leaves only the last build there: the CPU-only one after a full web/build.sh; build
one kind alone to measure it). `--top N` lines (default 40); `--grep TEXT` lists the largest
functions whose name contains TEXT instead.
"""
import argparse
import collections
import re
import sys


def leb128(data, at):
    """An unsigned LEB128 number at `at`: (value, position after it)."""
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def read_module(data):
    """(function body sizes in index order after the imports, {function index: name},
    number of imported functions)."""
    if data[:4] != b"\0asm":
        raise ValueError("not a WebAssembly module (no \\0asm header)")
    at, bodies, names, imported = 8, [], {}, 0
    while at < len(data):
        section = data[at]
        size, at = leb128(data, at + 1)
        end = at + size
        if section == 2:  # imports: count the functions, skip the rest
            count, p = leb128(data, at)
            for _ in range(count):
                for _ in range(2):  # module and field names
                    length, p = leb128(data, p)
                    p += length
                kind, p = data[p], p + 1
                if kind == 0:
                    _, p = leb128(data, p)
                    imported += 1
                elif kind == 1:  # table: element type, limits
                    flags, p = leb128(data, p + 1)
                    _, p = leb128(data, p)
                    if flags & 1:
                        _, p = leb128(data, p)
                elif kind == 2:  # memory: limits
                    flags, p = leb128(data, p)
                    _, p = leb128(data, p)
                    if flags & 1:
                        _, p = leb128(data, p)
                elif kind == 3:  # global: type, mutability
                    p += 2
                elif kind == 4:  # tag (exception handling): attribute, type index
                    _, p = leb128(data, p + 1)
                else:
                    raise ValueError(f"import kind {kind} not understood")
        elif section == 10:  # code
            count, p = leb128(data, at)
            for _ in range(count):
                length, body = leb128(data, p)
                bodies.append(length + (body - p))
                p = body + length
        elif section == 0:  # custom: the name section's function names
            length, p = leb128(data, at)
            if data[p : p + length] == b"name":
                p += length
                while p < end:
                    sub, p = data[p], p + 1
                    sub_size, p = leb128(data, p)
                    if sub == 1:
                        count, q = leb128(data, p)
                        for _ in range(count):
                            index, q = leb128(data, q)
                            length, q = leb128(data, q)
                            names[index] = data[q : q + length].decode("utf-8", "replace")
                            q += length
                    p += sub_size
        at = end
    return bodies, names, imported


ESCAPES = [("$LT$", "<"), ("$GT$", ">"), ("$u20$", " "), ("$C$", ","), ("$RF$", "&"),
           ("$BP$", "*"), ("$u7b$", "{"), ("$u7d$", "}"), ("$u5b$", "["), ("$u5d$", "]"),
           ("$u27$", "'"), ("$SP$", "@"), ("$LP$", "("), ("$RP$", ")"), ("..", "::")]


def demangle(name):
    """Rust's legacy mangling (`_ZN...E`) back to a path, without the hash; other names as
    they are (wasm-ld writes legacy names demangled already; v0 names, `_R...`, are left
    mangled and [`crate_of`] reads their crate)."""
    if not name.startswith("_ZN"):
        return name
    at, parts = 3, []
    while at < len(name) and name[at].isdigit():
        digits = at
        while name[digits].isdigit():
            digits += 1
        length = int(name[at:digits])
        parts.append(name[digits : digits + length])
        at = digits + length
    if parts and re.fullmatch(r"h[0-9a-f]{16}", parts[-1]):
        parts.pop()
    path = "::".join(parts)
    for escaped, plain in ESCAPES:
        path = path.replace(escaped, plain)
    return path.lstrip("_")


def crate_of(name):
    v0 = re.match(r"^_R[A-Za-z]*?C(?:s[0-9A-Za-z]*_)?(\d+)", name)
    if v0:  # Rust's v0 mangling: the first crate root `C<disambiguator><len><name>`
        length = int(v0.group(1))
        return name[v0.end() : v0.end() + length]
    path = demangle(name)
    first = re.match(r"^<?\s*(?:&mut |&|\*const |\*mut |dyn )*([A-Za-z_][A-Za-z0-9_]*)(?:\[[0-9a-f]+\])?::", path)
    if first:
        return first.group(1)
    return path.split("::")[0][:40] or "?"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("module", help="a .wasm file with its name section")
    parser.add_argument("--top", type=int, default=40, help="lines to print (default 40)")
    parser.add_argument("--grep", help="list the largest functions whose name contains this")
    args = parser.parse_args()
    try:
        with open(args.module, "rb") as f:
            data = f.read()
        bodies, names, imported = read_module(data)
    except (OSError, ValueError, IndexError) as error:
        sys.exit(f"{args.module}: {error}")
    if not names:
        sys.exit(f"{args.module}: no name section (wasm-bindgen --remove-name-section drops it); "
                 "give cargo's output, target/wasm32-unknown-unknown/<profile>/ring_wgpu_web.wasm")
    total = sum(bodies)
    print(f"{args.module}: {len(data) / 1024:,.0f} KiB, of which code {total / 1024:,.0f} KiB in {len(bodies):,} functions")
    if args.grep:
        found = sorted(((size, demangle(names.get(i + imported, "?"))) for i, size in enumerate(bodies)
                        if args.grep in demangle(names.get(i + imported, "?"))), reverse=True)
        print(f"{len(found):,} functions whose name contains {args.grep!r}: "
              f"{sum(size for size, _ in found) / 1024:,.1f} KiB, {100 * sum(size for size, _ in found) / total:.1f}% of the code")
        for size, name in found[: args.top]:
            print(f"{size / 1024:9.1f} KiB  {name[:160]}")
        return
    size_of, count_of = collections.Counter(), collections.Counter()
    for i, size in enumerate(bodies):
        crate = crate_of(names.get(i + imported, "?"))
        size_of[crate] += size
        count_of[crate] += 1
    print(f"{'KiB':>9} {'share':>6} {'functions':>9}  crate")
    for crate, size in size_of.most_common(args.top):
        print(f"{size / 1024:9.1f} {100 * size / total:5.1f}% {count_of[crate]:9,}  {crate}")


if __name__ == "__main__":
    main()
