#!/usr/bin/env python3
"""check_layers.py: the product's folders depend on each other only along the arrows.

    cli -> coordinator, worker, simulator, report, plan, proto, common
    coordinator -> report, plan, proto, common
    worker -> proto, common
    report -> plan, common          (no ZeroMQ: `surge report` and `surge compare`)
    plan -> common                  (no ZeroMQ: `surge validate`)
    proto -> common
    simulator -> common

Three checks, each naming what breaks it:
  includes  every `#include "DIR/..."` of a tracked source follows an arrow (file:line);
  links     in the built libraries (build/libsurge_*.a), no object file references a
            symbol defined in a library its folder may not depend on, and report/ and plan/
            reference no ZeroMQ, czmq or msgpack symbol;
  sizes     no folder holds more than a third of the product's lines (a folder that
            grows past it is doing several things: split it along a concern);
  circles   among the object files of the built libraries (A -> B when A calls or reads
            something B defines) no circle spans more than --max-circle files.

    check_layers.py [--src DIR] [--build DIR] [--max-circle N]
    check_layers.py --self-test    plants a violation in a copy and expects it caught

Exit 0 when the tree follows the arrows, 1 with every violation listed, 77 (skip) when the
build's libraries or `nm` are missing.
"""
import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile

ALLOWED = {
    "cli": {"coordinator", "worker", "simulator", "report", "plan", "proto", "common"},
    "coordinator": {"report", "plan", "proto", "common"},
    "worker": {"proto", "common"},
    "report": {"plan", "common"},
    "plan": {"common"},
    "proto": {"common"},
    "simulator": {"common"},
    "common": set(),
}
# Symbols that mean "this object talks ZeroMQ": report/ and plan/ must have none.
WIRE_SYMBOLS = re.compile(r"^(zmq_|zsock_|zmsg_|zframe_|zactor_|zpoller_|zcert|zauth|msgpack_)")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/([^"]+)"')


def folders_of(src):
    return [d for d in ALLOWED if os.path.isdir(os.path.join(src, d))]


def check_includes(src):
    problems = []
    for folder in folders_of(src):
        base = os.path.join(src, folder)
        for name in sorted(os.listdir(base)):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(base, name)
            with open(path, encoding="utf-8", errors="replace") as f:
                for lineno, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m or m.group(1) not in ALLOWED:
                        continue
                    target = m.group(1)
                    if target != folder and target not in ALLOWED[folder]:
                        problems.append(
                            f"{folder}/{name}:{lineno}: includes {target}/{m.group(2)}, but "
                            f"{folder}/ may include only "
                            f"{', '.join(sorted(ALLOWED[folder] | {folder}))}"
                        )
    return problems


def folder_lines(src):
    lines = {}
    for folder in folders_of(src):
        base = os.path.join(src, folder)
        total = 0
        for name in os.listdir(base):
            if name.endswith((".c", ".h")):
                with open(os.path.join(base, name), "rb") as f:
                    total += f.read().count(b"\n")
        lines[folder] = total
    return lines


def check_sizes(lines):
    total = sum(lines.values())
    return [f"{folder}/ holds {n} of the product's {total} lines (more than a third)"
            for folder, n in sorted(lines.items()) if total and 3 * n > total]


def read_objects(build):
    """{object: (folder, defined symbols, undefined symbols)} from build/libsurge_*.a."""
    objects = {}
    for folder in ALLOWED:
        lib = os.path.join(build, f"libsurge_{folder}.a")
        if not os.path.exists(lib):
            continue
        out = subprocess.run(["nm", "-A", "-P", lib], capture_output=True, text=True, check=True)
        for line in out.stdout.splitlines():
            # "libsurge_plan.a[plan.c.o]: plan_new T 0000000000000000 0000000000000086"
            head, _, rest = line.partition(": ")
            m = re.search(r"\[(.+?)\.o\]$", head)
            fields = rest.split()
            if not m or len(fields) < 2:
                continue
            obj = f"{folder}/{m.group(1)}"
            entry = objects.setdefault(obj, (folder, set(), set()))
            symbol, kind = fields[0], fields[1]
            if kind == "U":
                entry[2].add(symbol)
            elif kind in "TDBRCGSV" and kind.isupper():
                entry[1].add(symbol)
    return objects


def link_graph(objects):
    defined_by = {}
    for obj, (_, defs, _) in objects.items():
        for s in defs:
            defined_by[s] = obj
    graph = collections.defaultdict(set)
    for obj, (_, _, undefs) in objects.items():
        for s in undefs:
            other = defined_by.get(s)
            if other and other != obj:
                graph[obj].add((other, s))
    return graph


def check_links(objects, graph):
    problems = []
    for obj, edges in sorted(graph.items()):
        folder = objects[obj][0]
        for other, symbol in sorted(edges):
            target = objects[other][0]
            if target != folder and target not in ALLOWED[folder]:
                problems.append(f"{obj}: uses {symbol} of {other}, but {folder}/ may not depend "
                                f"on {target}/")
    for obj, (folder, _, undefs) in sorted(objects.items()):
        if folder in ("report", "plan"):
            wire = sorted(s for s in undefs if WIRE_SYMBOLS.match(s))
            if wire:
                problems.append(f"{obj}: {folder}/ must not talk ZeroMQ, but uses {', '.join(wire[:3])}")
    return problems


def circles(nodes, edges_of):
    """Strongly connected components of more than one node (Tarjan, iterative)."""
    index, low, on_stack, stack, result = {}, {}, set(), [], []
    counter = 0
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(edges_of(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(edges_of(nxt)))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    result.append(sorted(comp))
    return result


def check_circles(objects, graph, max_circle):
    def edges_of(obj):
        return {other for other, _ in graph.get(obj, ())}

    problems = []
    for comp in circles(objects.keys(), edges_of):
        if len(comp) > max_circle:
            problems.append(f"{len(comp)} files call each other in a circle (at most "
                            f"{max_circle}): {' '.join(comp)}")
    return problems, [c for c in circles(objects.keys(), edges_of)]


def run_checks(src, build, max_circle, verbose=True):
    problems = check_includes(src)
    lines = folder_lines(src)
    problems += check_sizes(lines)
    if verbose:
        total = sum(lines.values())
        print("lines: " + ", ".join(f"{k} {v} ({100 * v / total:.0f}%)"
                                    for k, v in sorted(lines.items(), key=lambda kv: -kv[1])))
    if build is not None:
        objects = read_objects(build)
        graph = link_graph(objects)
        problems += check_links(objects, graph)
        circle_problems, comps = check_circles(objects, graph, max_circle)
        problems += circle_problems
        if verbose:
            widest = max((len(c) for c in comps), default=1)
            print(f"{len(objects)} object files; widest call circle: {widest} files")
            for c in comps:
                print(f"  circle of {len(c)}: {' '.join(c)}")
    return problems


def self_test(src):
    """Plants an include against the arrows, and a circle, and expects both caught."""
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        for folder in folders_of(src):
            shutil.copytree(os.path.join(src, folder), os.path.join(tmp, folder))
        clean = check_includes(tmp)
        if clean:
            failures.append(f"the copy should pass before the plant: {clean[0]}")
        victim = os.path.join(tmp, "plan", "plan.c")
        with open(victim, "a") as f:
            f.write('\n#include "coordinator/coordinator.h"\n')
        found = check_includes(tmp)
        if not any(p.startswith("plan/plan.c:") and "coordinator/coordinator.h" in p for p in found):
            failures.append("a planted include of coordinator/ in plan/plan.c was not caught")
        else:
            print(f"caught the planted include: {found[0]}")
    # A circle of six synthetic files, and one of five: only the first is too wide.
    six = {f"f{i}": {f"f{(i + 1) % 6}"} for i in range(6)}
    five = {f"g{i}": {f"g{(i + 1) % 5}"} for i in range(5)}
    graph = {**six, **five}
    comps = circles(graph.keys(), lambda n: graph.get(n, set()))
    sizes = sorted(len(c) for c in comps)
    if sizes != [5, 6]:
        failures.append(f"planted circles of 5 and 6 files found as {sizes}")
    else:
        print("caught the planted circle of 6 files (and measured the one of 5)")
    # A folder over a third of the lines is refused; one at exactly a third is not.
    if not check_sizes({"a": 40, "b": 30, "c": 30}) or check_sizes({"a": 1, "b": 1, "c": 1}):
        failures.append("the third-of-the-lines rule misjudged a planted tree")
    else:
        print("caught a folder holding more than a third of the lines")
    # A plan/ object that references zmq_ is refused.
    objects = {"plan/x": ("plan", set(), {"zmq_send"})}
    if not check_links(objects, {}):
        failures.append("a plan/ object using zmq_send was not caught")
    else:
        print("caught a plan/ object using ZeroMQ")
    return failures


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--src", default=os.environ.get("SURGE_SRC") or
                   os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
    p.add_argument("--build", default=os.environ.get("SURGE_BUILD"))
    p.add_argument("--max-circle", type=int, default=5)
    p.add_argument("--self-test", action="store_true")
    a = p.parse_args()
    if a.self_test:
        failures = self_test(a.src)
        for f in failures:
            print("FAIL:", f)
        return 1 if failures else 0
    if not shutil.which("nm") or not a.build or not os.path.exists(
            os.path.join(a.build, "libsurge_common.a")):
        print("SKIP: needs `nm` and a build directory with libsurge_*.a (--build)")
        return 77
    problems = run_checks(a.src, a.build, a.max_circle)
    for prob in problems:
        print(prob)
    print(f"{len(problems)} violation(s) of the layers")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
