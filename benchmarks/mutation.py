#!/usr/bin/env python3
"""Mutation testing of the core: how many planted bugs the tests of each module kill.

Runs mutmut (requirements-dev.txt) once per module, with only that module mutated and only the
test files that exercise it selected, so each mutant runs in seconds. It is slow overall (minutes
per module) and stays out of CI: run it by hand after changing a core module or its tests.

Every run happens in a temporary copy of this checkout (the files git tracks plus new, not ignored
ones), so the checkout is never touched: mutmut's ``mutants/`` folder and its caches live and die in
that copy. ``../shared`` is linked beside the copy, so tests needing it run as they do here.

Prints, per module: killed / total, the score, and every surviving mutant with its diff line.
mutmut runs each mutant in a forked worker; every survivor not listed as equivalent, and every mutant
that ran out of time, is then run once more in a Python process of its own: a survivor counts as
killed when its tests fail there (the report names those), a timeout as a survivor when they pass.
Mutants listed in ``benchmarks/mutation-equivalent.txt`` (module, mutant name, the mutated line,
reason) are equivalent (no test can tell them from the original): they are reported apart and the
score without them is printed too. Target: at least 85 % killed per module.

Usage:
    python benchmarks/mutation.py                  # every module, smallest first
    python benchmarks/mutation.py sampling results # some of them
    python benchmarks/mutation.py --list           # the module -> tests table
    python benchmarks/mutation.py stages --survivors-of last.json --json now.json

``--survivors-of RESULTS`` (a ``--json`` file of an earlier run) runs only that run's survivors
again, with today's tests, and counts the earlier run's kills as kills: tests added since cannot
bring a killed mutant back. It refuses a module whose source changed since that run (the mutants
would not be the same ones): each result records the SHA-256 of the module it mutated.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EQUIVALENT_FILE = Path(__file__).with_name("mutation-equivalent.txt")
TARGET = 0.85


@dataclass(frozen=True)
class Target:
    """One module to mutate and the test files that exercise it."""

    name: str
    source: str
    tests: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()  # for the tests of this module only
    pytest_args: tuple[str, ...] = ()  # added to pytest's arguments for this module
    # "fork": each mutant's worker forks from mutmut's own process, which ran the tests once for its
    # statistics. "forkserver": from a process that only collected them. Tests that compile an
    # OpenVINO model need the latter: a child forked from a process that compiled one waits forever
    # in the CPU plugin's task executor (its threads stayed in the parent), so every mutant would end
    # by mutmut's wall-clock limit and count as killed.
    isolation: str = "fork"


# Smallest and fastest first. The test files are the ones written for each module; other files
# touch the module too, but selecting them would make every mutant cost minutes.
TARGETS = (
    Target("sampling", "actionrec/pipeline/sampling.py", ("tests/test_sampling.py",)),
    Target("preprocess", "actionrec/pipeline/preprocess.py", ("tests/test_preprocess.py",)),
    Target("results", "actionrec/results.py", ("tests/test_results.py",)),
    Target(
        "timeline",
        "actionrec/export/timeline.py",
        ("tests/test_export.py", "tests/test_download_limits.py::test_export_source_takes_the_limit"),
    ),
    # files: the file pipeline's own test files (each runs in seconds; ~50 s together here), the
    # recognizer's head path from test_groups and its download limit from test_download_limits.
    # Not test_interrupts' CLI test: mutmut's trampolines fail in the CLI subprocess it starts
    # (they look for mutmut's settings from the subprocess's working directory).
    Target(
        "files",
        "actionrec/pipeline/files.py",
        (
            "tests/test_pipeline.py",
            "tests/test_chunks.py",  # windows_of for a chunk
            "tests/test_recognizer.py",
            "tests/test_decoded_cache.py",
            "tests/test_embedding_cache.py",
            "tests/test_quick_scan.py",
            "tests/test_interrupts.py::test_interrupt_mid_analysis_releases_the_file_and_writes_no_cache",
            "tests/test_interrupts.py::test_a_second_ctrl_c_during_shutdown_waits_for_the_reader_before_the_capture_is_released",
            "tests/test_groups.py",
            "tests/test_download_limits.py::test_recognizer_encode_and_analyze_take_the_limit",
        ),
        pytest_args=("--timeout=30",),  # as stages: a stuck encoder loop uses no CPU
        isolation="forkserver",
    ),
    # stages: the file encoder's stages: their own tests (test_stages: the bar, the result's counters,
    # timings from injected clocks, reuse, early stops) and the file pipeline's files. A mutant of
    # the encoder loop often leaves a thread waiting on the hand-off queue without using any CPU, so
    # mutmut's CPU limit never ends it: a test stops after 30 s (each takes a few seconds at most).
    Target(
        "stages",
        "actionrec/pipeline/stages.py",
        (
            "tests/test_stages.py",
            "tests/test_chunks.py",  # a chunk of a long video: first_sample / end_sample
            "tests/test_pipeline.py",
            "tests/test_recognizer.py",
            "tests/test_embedding_cache.py",
            "tests/test_quick_scan.py",
            "tests/test_interrupts.py::test_interrupt_mid_analysis_releases_the_file_and_writes_no_cache",
            "tests/test_interrupts.py::test_a_second_ctrl_c_during_shutdown_waits_for_the_reader_before_the_capture_is_released",
        ),
        pytest_args=("--timeout=30",),
        isolation="forkserver",
    ),
    # live: a mutant that keeps a window from resolving waits out test_live's hang guard, or loops
    # until mutmut's CPU limit ((test time + 1 s) x 15 x 2). For these runs its hang guard is 10 s
    # (AR_TEST_WAIT_LIMIT_S) and a test stops after 60 s (the suite's 300 s per test is for loaded CI
    # machines; test_live's tests take well under a second).
    # Besides test_live: the in-process live tests elsewhere (a head reading the feature output, a
    # failing encoder callback). Not the subprocess ones (mutmut records no coverage in a child
    # process, so it would never select them) nor test_actions' head test (training its head costs
    # 8 s per mutant; test_live has a head of its own).
    Target(
        "live",
        "actionrec/pipeline/live.py",
        (
            "tests/test_live.py",
            "tests/test_decoded_cache.py::test_the_live_recognizer_reads_the_feature_output_for_a_head",
            "tests/test_inference_errors.py::test_live_push_raises_a_callback_error_once_and_its_sample_counts_as_missing",
            "tests/test_colour_and_crop.py::test_browser_camera_jpeg_becomes_bgr_and_the_live_label_is_its_colour",
        ),
        env=(("AR_TEST_WAIT_LIMIT_S", "10"),),
        pytest_args=("--timeout=60",),
        isolation="forkserver",
    ),
    # inflight: the live encoder's request limit; its own tests script completions on a fake clock,
    # test_live holds real requests (a sample waits in a second request; a slow encoder stays at one).
    Target(
        "inflight",
        "actionrec/pipeline/inflight.py",
        ("tests/test_inflight.py", "tests/test_live.py"),
        env=(("AR_TEST_WAIT_LIMIT_S", "10"),),
        pytest_args=("--timeout=60",),
        isolation="forkserver",
    ),
    # pyav: the real clips of ../shared/media carry what synthetic files lack (corrupt packets mid-file,
    # a cut-off MP4, containers that state no duration); 15 s more per surviving mutant.
    Target(
        "pyav",
        "actionrec/video/pyav.py",
        ("tests/test_video.py", "tests/test_video_pyav.py", "tests/test_media_matrix.py::test_clip"),
    ),
    # download: besides its own two files, the planted-link tests of test_private_files (a link or a
    # second name at the part, validator or final path is never written through or read out).
    # A mutant of the read loop (a read timeout or a stall check undone) waits on a socket that the
    # test server keeps stalled, using no CPU: a test stops after 20 s (each takes 1.5 s at most),
    # not at mutmut's wall-clock limit of ~15x the tests' time (~2.5 min per such mutant).
    # Workers fork from the fork server: forked from mutmut's own process (which ran the tests and
    # their HTTP servers once for its statistics), a worker hung in a socket read that no timeout
    # ended, on mutants whose tests pass in a process of their own in 0.6 s.
    Target(
        "download",
        "actionrec/download.py",
        (
            "tests/test_download.py",
            "tests/test_download_limits.py",
            "tests/test_private_files.py::test_fetch_file_never_appends_to_a_link_planted_at_the_part_path",
            "tests/test_private_files.py::test_the_part_is_written_through_the_descriptor_it_was_opened_as_not_by_its_name",
            "tests/test_private_files.py::test_fetch_file_never_appends_to_a_hard_link_at_the_part_path",
            "tests/test_private_files.py::test_a_link_at_the_final_path_is_replaced_not_written_through",
            "tests/test_private_files.py::test_download_url_never_writes_through_a_link_at_the_part_path",
            "tests/test_private_files.py::test_a_link_at_the_validator_path_is_neither_read_nor_written",
            "tests/test_private_files.py::test_a_link_planted_at_the_validator_path_after_its_removal_stops_the_download",
            "tests/test_private_files.py::test_download_url_does_not_hand_out_a_link_planted_at_its_final_name",
        ),
        pytest_args=("--timeout=20",),
        isolation="forkserver",
    ),
)


def copy_checkout(dest: Path) -> None:
    """The checkout as it is now (tracked files and new unignored ones), without .git or caches."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for raw in listed:
        if not raw:
            continue
        rel = raw.decode()
        src = REPO / rel
        if not src.is_file():  # deleted in the working tree
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)


def write_config(root: Path, target: Target) -> None:
    """Append mutmut's settings for this module to the copy's pyproject.toml."""
    lines = [
        "",
        "[tool.mutmut]",
        'source_paths = ["actionrec"]',
        f'only_mutate = ["{target.source}"]',
        f"pytest_add_cli_args_test_selection = {json.dumps(list(target.tests))}",
        # no test-order plugin; the per-test timeout stays as the suite sets it
        f"pytest_add_cli_args = {json.dumps(['-p', 'no:randomly', '-q', '-x', *target.pytest_args])}",
        'also_copy = ["notebook_utils.py"]',
        # the copy is not a git checkout: no change detection
        "use_git_change_detection = false",
        f'process_isolation = "{target.isolation}"',
    ]
    with (root / "pyproject.toml").open("a") as f:
        f.write("\n".join(lines) + "\n")


def write_atomically(path: Path, text: str) -> None:
    """``text`` into ``path`` through a temporary file beside it: never half a file under its name."""
    part = path.with_name(path.name + ".part")
    part.write_text(text)
    os.replace(part, path)


def mutant_function(name: str) -> str:
    """A mutant's name without its number: the function it mutates (``…x_crop_rect``).

    mutmut numbers the mutants of a function in source order, so an edit elsewhere in the function
    renumbers them; the equivalent list names a mutant by its function and its mutated line.
    """
    return re.sub(r"__mutmut_\d+$", "", name)


def load_equivalents() -> dict[tuple[str, str, str], str]:
    """``(module, mutant function, mutated line) -> reason`` from the equivalent-mutant list."""
    out = {}
    if not EQUIVALENT_FILE.exists():
        return out
    for n, line in enumerate(EQUIVALENT_FILE.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 4:
            raise SystemExit(f"{EQUIVALENT_FILE.name}:{n}: want 4 tab-separated fields, got {len(parts)}: {line!r}")
        module, name, mutated, reason = (p.strip() for p in parts)
        out[(module, mutant_function(name), mutated)] = reason
    return out


# One process prints every survivor's diff (``mutmut show`` per mutant costs ~2 s each: minutes).
_DIFFS = """
import json, sys
from pathlib import Path
from mutmut.mutation.diff_apply import get_diff_for_mutant
source, names = json.load(sys.stdin)
print(json.dumps({n: get_diff_for_mutant(n, path=Path(source)) for n in names}))
"""


def mutated_lines(root: Path, source: str, names: list[str], env: dict) -> dict[str, str]:
    """Mutant name -> the ``+`` line of its diff (what the mutant changed), stripped."""
    if not names:
        return {}
    proc = subprocess.run(
        [sys.executable, "-c", _DIFFS],
        cwd=root,
        input=json.dumps([source, names]),
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return {name: _plus_line(diff) for name, diff in json.loads(proc.stdout).items()}


def _plus_line(shown: str) -> str:
    plus = [ln[1:].strip() for ln in shown.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    minus = [ln[1:].strip() for ln in shown.splitlines() if ln.startswith("-") and not ln.startswith("---")]
    if plus:
        return plus[0]
    return f"(removed) {minus[0]}" if minus else "?"


def rerun_in_fresh_processes(
    root: Path, target: Target, names: list[str], env: dict, *, workers: int, limit_s: float = 900.0
) -> dict[str, str]:
    """Each named mutant's tests again, each in a Python process of its own (no fork).

    Returns mutant name -> ``"killed"`` (a test failed), ``"timeout"`` (the tests ran past
    ``limit_s``) or ``"survived"``. mutmut's workers are forked; what a worker inherits (threads,
    locks, a library's global state) can make a test pass or hang that a user's process would not.
    """
    from concurrent.futures import ThreadPoolExecutor

    cmd = [sys.executable, "-m", "pytest", "--rootdir=.", "--tb=no", "-q", "-x", "-p", "no:randomly"]
    cmd += [*target.pytest_args, *target.tests]

    def one(name: str) -> str:
        try:
            proc = subprocess.run(
                ["nice", "-n", "10", *cmd],
                cwd=root / "mutants",
                env=env | {"MUTANT_UNDER_TEST": name},
                capture_output=True,
                timeout=limit_s,
            )
        except subprocess.TimeoutExpired:
            return "timeout"
        if proc.returncode in (2, 3, 4):  # interrupted, internal error, usage error: not a verdict
            tail = proc.stdout.decode(errors="replace")[-2000:]
            raise SystemExit(f"{target.name}: pytest could not run {name} (exit {proc.returncode}):\n{tail}")
        return "killed" if proc.returncode == 1 else "survived"  # 0: passed; 5: no test ran

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return dict(zip(names, pool.map(one, names), strict=True))


def source_sha256(target: Target) -> str:
    return hashlib.sha256((REPO / target.source).read_bytes()).hexdigest()


def run_target(target: Target, *, workers: int, keep: bool, equivalents: dict, previous: dict | None = None) -> dict:
    """Mutate one module in a fresh copy; returns its counts and survivors.

    With ``previous`` (this module's result of an earlier run, same source), only its survivors run.
    """
    tmp = Path(tempfile.mkdtemp(prefix=f"mutation-{target.name}-"))
    root = tmp / "repo"
    try:
        copy_checkout(root)
        shared = REPO.parent / "shared"
        if shared.exists():
            # tests find ../shared from the folder the tests run in: mutmut runs them in repo/mutants
            (root / "shared").symlink_to(shared.resolve())
        write_config(root, target)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
        # bytecode is written (in the temporary copy only): the tests that start a Python child
        # (test_download's kill-and-resume) would otherwise compile the mutated module, several MB,
        # in every child: ~10 s on a loaded machine, past that test's old 30 s guard
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(target.env)
        started = time.monotonic()
        cmd = ["nice", "-n", "10", sys.executable, "-m", "mutmut", "run", "--max-children", str(workers)]
        if previous is not None:
            cmd += [r["name"] for r in previous["survivors"]]
        proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, env=env)
        elapsed = time.monotonic() - started
        meta = root / "mutants" / (target.source + ".meta")
        if not meta.exists():
            tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
            raise SystemExit(f"{target.name}: mutmut produced no results (exit {proc.returncode}):\n{tail}")
        exit_codes = json.loads(meta.read_text())["exit_code_by_key"]
        from mutmut.stats import status_by_exit_code

        status = {name: status_by_exit_code[code] for name, code in exit_codes.items()}
        earlier_kills = 0
        if previous is not None:
            status = {r["name"]: status[r["name"]] for r in previous["survivors"]}
            earlier_kills = previous["killed"]
        killed = sorted(n for n, s in status.items() if s in ("killed", "timeout", "caught by type check"))
        survivors = sorted(set(status) - set(killed))
        # a mutant that ran out of time in its forked worker may only have waited (a lock or a thread
        # the fork did not carry, a machine busy with other work): a process of its own decides
        timeouts = sorted(n for n in killed if status[n] == "timeout")
        lines = mutated_lines(root, target.source, [*survivors, *timeouts], env)
        # a listed line that no longer matches any mutant of its function is stale: not applied
        eq = {n: equivalents.get((target.name, mutant_function(n), lines[n])) for n in [*survivors, *timeouts]}
        # a survivor is one only if a process of its own agrees (no state inherited from a fork);
        # an equivalent one needs no second opinion
        again = [n for n in survivors if not eq[n]] + timeouts
        fresh = rerun_in_fresh_processes(root, target, again, env, workers=workers)
        fresh_kills = sorted(n for n in survivors if n in fresh and fresh[n] != "survived")
        timeout_survivors = sorted(n for n in timeouts if fresh[n] == "survived")
        status |= {n: f"{fresh[n]} in a fresh process" for n in fresh_kills}
        status |= {n: "survived in a fresh process (timed out in its forked worker)" for n in timeout_survivors}
        killed = sorted(set(killed) - set(timeout_survivors) | set(fresh_kills))
        survivors = sorted(set(survivors) - set(fresh_kills) | set(timeout_survivors))
        rows = [{"name": n, "status": status[n], "line": lines[n], "equivalent": eq[n]} for n in survivors]
        total = previous["total"] if previous is not None else len(status)
        return {
            "module": target.name,
            "source_sha256": source_sha256(target),
            "total": total,
            "killed": earlier_kills + len(killed),
            "survivors": rows,
            "s": elapsed + (previous["s"] if previous is not None else 0.0),
            "rerun_of_survivors": previous is not None,
            "killed_in_a_fresh_process": [{"name": n, "status": status[n]} for n in fresh_kills],
        }
    finally:
        if keep:
            print(f"  (kept {tmp})")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def report(res: dict, *, details: bool = True) -> bool:
    total, killed = res["total"], res["killed"]
    equivalent = [r for r in res["survivors"] if r["equivalent"]]
    live = [r for r in res["survivors"] if not r["equivalent"]]
    score = killed / total if total else 1.0
    counted = total - len(equivalent)
    score_eq = killed / counted if counted else 1.0
    ok = score_eq >= TARGET and not live
    print(
        f"{res['module']:<11} killed {killed:>4} / {total:<4} {100 * score:5.1f} %   "
        f"equivalent {len(equivalent):>3}   without them {100 * score_eq:5.1f} %   "
        f"surviving {len(live):>3}   ({res['s']:.0f} s)  {'OK' if ok else 'BELOW TARGET / SURVIVORS'}"
        + ("   (an earlier run's survivors re-run)" if res.get("rerun_of_survivors") else "")
    )
    if not details:
        return ok
    for r in res.get("killed_in_a_fresh_process", []):
        print(f"    {r['status']}: {r['name']} (survived its forked worker)")
    for r in live:
        print(f"    survived  {r['name']}  [{r['status']}]  {r['line']}")
    for r in equivalent:
        print(f"    equivalent {r['name']}  {r['line']}  ({r['equivalent']})")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="module names (default: all): " + ", ".join(t.name for t in TARGETS))
    parser.add_argument("--workers", type=int, default=1, help="mutants run at once (default 1: shared machines)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy (to run `mutmut show` in it)")
    parser.add_argument("--list", action="store_true", help="print the module -> tests table and exit")
    parser.add_argument("--json", type=Path, help="also write the results to this file (after each module)")
    parser.add_argument(
        "--survivors-of",
        type=Path,
        metavar="RESULTS",
        help="run only the survivors of an earlier run (its --json file)",
    )
    args = parser.parse_args(argv)
    by_name = {t.name: t for t in TARGETS}
    if args.list:
        for t in TARGETS:
            print(f"{t.name:<11} {t.source:<34} {' '.join(t.tests)}")
        return 0
    unknown = [m for m in args.modules if m not in by_name]
    if unknown:
        parser.error(f"unknown module(s) {unknown}; valid: {', '.join(by_name)}")
    chosen = [by_name[m] for m in args.modules] if args.modules else list(TARGETS)
    equivalents = load_equivalents()
    earlier = {}
    if args.survivors_of:
        earlier = {r["module"]: r for r in json.loads(args.survivors_of.read_text())}
        for t in chosen:
            if t.name not in earlier:
                parser.error(
                    f"{args.survivors_of} has no result for {t.name!r} (it has {', '.join(earlier) or 'none'})"
                )
            if earlier[t.name].get("source_sha256") != source_sha256(t):
                parser.error(f"{t.source} changed since the run in {args.survivors_of}: run {t.name} in full")
    results, all_ok = [], True
    for t in chosen:
        print(f"mutating {t.source} against {' '.join(t.tests)} ...", flush=True)
        previous = earlier.get(t.name)
        res = run_target(t, workers=args.workers, keep=args.keep, equivalents=equivalents, previous=previous)
        results.append(res)
        all_ok &= report(res)
        sys.stdout.flush()
        if args.json:  # after each module: a run stopped later keeps what it finished
            write_atomically(args.json, json.dumps(results, indent=2))
    if len(results) > 1:
        print("\nsummary")
        for res in results:
            report(res, details=False)
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
