"""Helpers of the Python checks that ctest runs (tests/lazy_cuda,
tests/gpu_bundle): named checks that print ok/FAIL and are counted, and the
path of the dynamic loader (to run a program through it without its cache)."""
import sys


class Checks:
    def __init__(self):
        self.failures = []

    def __call__(self, condition, what):
        print(("ok    " if condition else "FAIL  ") + what)
        if not condition:
            self.failures.append(what)

    def exit(self):
        if self.failures:
            sys.exit(f"{len(self.failures)} check(s) failed")


def dynamic_loader():
    """The ld.so this Python runs under (its path differs across distributions)."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if "/ld-linux" in path or "/ld-musl" in path:
                return path
    sys.exit("cannot find the dynamic loader in /proc/self/maps")
