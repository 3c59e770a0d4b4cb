"""`make mutation`: how many mutants of the modules that hold the bot's promises the tests kill.

    python scripts/mutation.py [MODULE ...] [--target 85] [--max-children 1]

Runs mutmut afresh (configured in pyproject.toml, [tool.mutmut]: the modules in `only_mutate`,
the fast tests in `pytest_add_cli_args_test_selection`), one mutant at a time unless told
otherwise (the polling tests mostly wait on the clock, so more workers help where cores are
free), then prints for each module its mutants, how many the tests killed, how many survived,
and the killed share. A mutant that makes the tests hang until mutmut's timeout counts as
killed (as in mutmut's own score); a mutant no selected test reaches counts as survived. Exits
1 when a module is below the target. MODULE (a path of `only_mutate`) limits the run to those
modules.

mutmut's own output goes to mutants/mutmut.log; `mutmut show NAME` (run here) shows a
surviving mutant's change, `mutmut browse` all of them.
"""

from __future__ import annotations

import argparse
import codecs
import fnmatch
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MUTANTS = REPO / "mutants"
MUTMUT = Path(sys.executable).with_name("mutmut")
TARGET_PERCENT = 85.0
# Where a module holds more than the promise, only these of its functions are mutated
# ("Class.method" for a method). The rest is covered by tests too slow for mutation testing
# (a real fine-tuning), which would be run once per mutant.
FUNCTIONS = {
    "knowledge_base/training/pipeline.py": ("_decide_promotion", "_decide"),
}
# mutmut's statuses (`mutmut results --all true`) as this table counts them.
KILLED = {"killed", "timeout"}
SURVIVED = {"survived", "no tests"}
# mutmut's progress line: done/total, then killed, no tests, timeout, suspicious, survived.
PROGRESS = re.compile(r"(\d+)/(\d+)\s+🎉 (\d+) 🫥 (\d+)\s+⏰ (\d+)\s+🤔 (\d+)\s+🙁 (\d+)")
PROGRESS_EVERY = 30.0


@dataclass(frozen=True)
class ModuleResult:
    path: str
    statuses: dict[str, str]  # mutant name -> mutmut's status

    def count(self, kinds: set[str]) -> int:
        return sum(status in kinds for status in self.statuses.values())

    @property
    def share(self) -> float:
        return 100.0 * self.count(KILLED) / len(self.statuses) if self.statuses else 100.0

    def survivors(self) -> list[str]:
        return sorted(name for name, status in self.statuses.items() if status in SURVIVED)


def mutated_modules() -> list[str]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    return list(config["tool"]["mutmut"]["only_mutate"])


def mutant_globs(path: str) -> list[str]:
    """The mutmut names of the mutants of `path` this run counts, as fnmatch patterns."""
    module = path.removesuffix(".py").replace("/", ".")
    functions = FUNCTIONS.get(path)
    if functions is None:
        return [f"{module}.*"]
    globs = []
    for function in functions:
        owner, _, name = function.rpartition(".")
        mangled = f"xǁ{owner}ǁ{name}" if owner else f"x_{name}"
        globs.append(f"{module}.{mangled}__mutmut_*")
    return globs


def run_mutmut(globs: list[str], max_children: int) -> None:
    """A fresh run: mutmut keeps earlier verdicts and test mappings in mutants/, and a test
    changed since would not be asked again."""
    shutil.rmtree(MUTANTS, ignore_errors=True)
    MUTANTS.mkdir()
    # The tests find the base models beside the repository's code; mutmut copies the code.
    (MUTANTS / "models").symlink_to(REPO / "models", target_is_directory=True)
    log_path = MUTANTS / "mutmut.log"
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            [str(MUTMUT), "run", "--max-children", str(max_children), *globs],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert process.stdout is not None
        # mutmut redraws one progress line with "\r": read what comes, not lines.
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        shown_at = time.monotonic()
        while chunk := os.read(process.stdout.fileno(), 65536):
            text = decoder.decode(chunk)
            log.write(text)
            progress = PROGRESS.findall(text)
            if progress and time.monotonic() - shown_at >= PROGRESS_EVERY:
                killed, no_tests, timeout, suspicious, survived = map(int, progress[-1][2:])
                tried = killed + no_tests + timeout + suspicious + survived
                print(
                    f"  {tried} mutants tried: {killed + timeout} killed, "
                    f"{survived + no_tests} survived",
                    flush=True,
                )
                shown_at = time.monotonic()
    if process.wait() != 0:
        tail = log_path.read_text(encoding="utf-8").replace("\r", "\n").splitlines()[-40:]
        sys.exit("mutmut failed:\n" + "\n".join(tail) + f"\n(all of it: {log_path})")


def read_results(paths: list[str]) -> list[ModuleResult]:
    output = subprocess.run(
        [str(MUTMUT), "results", "--all", "true"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
        encoding="utf-8",
    ).stdout
    statuses = dict(line.strip().rsplit(": ", 1) for line in output.splitlines() if ": " in line)
    results = []
    for path in paths:
        globs = mutant_globs(path)
        mine = {
            name: status
            for name, status in statuses.items()
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in globs)
        }
        results.append(ModuleResult(path, mine))
    return results


def print_table(results: list[ModuleResult]) -> None:
    header = ("module", "mutants", "killed", "survived", "timeout/other", "killed share")
    rows = []
    for result in results:
        kinds = Counter(result.statuses.values())
        other = len(result.statuses) - kinds["killed"] - result.count(SURVIVED)
        scope = "" if result.path not in FUNCTIONS else f" ({', '.join(FUNCTIONS[result.path])})"
        rows.append(
            (
                result.path + scope,
                str(len(result.statuses)),
                str(kinds["killed"]),
                str(result.count(SURVIVED)),
                str(other),
                f"{result.share:.1f} %",
            )
        )
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        cells = [c.rjust(w) for c, w in zip(row, widths, strict=True)]
        print("  ".join([row[0].ljust(widths[0]), *cells[1:]]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="paths of [tool.mutmut] only_mutate")
    parser.add_argument("--target", type=float, default=TARGET_PERCENT, help="percent killed")
    parser.add_argument("--max-children", type=int, default=1, help="mutants tested at once")
    args = parser.parse_args()
    known = mutated_modules()
    unknown = [m for m in args.modules if m not in known]
    if unknown:
        parser.error(f"not in [tool.mutmut] only_mutate: {', '.join(unknown)}")
    paths = args.modules or known

    started = time.monotonic()
    workers = "one worker" if args.max_children == 1 else f"{args.max_children} workers"
    print(f"mutmut over {len(paths)} modules, {workers} (log: {MUTANTS / 'mutmut.log'})")
    run_mutmut([glob for path in paths for glob in mutant_globs(path)], args.max_children)
    results = read_results(paths)
    minutes, seconds = divmod(round(time.monotonic() - started), 60)
    print(f"\nmutation testing took {minutes} min {seconds} s\n")
    print_table(results)

    below = [r for r in results if r.share < args.target]
    for result in results:
        if result.survivors():
            print(f"\nsurvived in {result.path} (`mutmut show NAME`):")
            for name in result.survivors():
                print(f"  {name}: {result.statuses[name]}")
    if below:
        sys.exit(f"\nbelow {args.target:g} % killed: {', '.join(r.path for r in below)}")


if __name__ == "__main__":
    main()
