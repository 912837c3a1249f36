"""The GPU check bundle, as far as a machine without a GPU can check it
(issue 20 item 8): bench/gpu_check.sh --prepare from this build's files
succeeds; the bundle is within 48 MiB; run.sh --dry-run lists every step
with a budget and the budgets fit the 9 minutes; and the bundled binaries
start with none of the machine's non-glibc libraries: run through the
dynamic loader without its cache (ld.so --inhibit-cache), LD_DEBUG=files
shows every library coming from the bundle's lib/ except glibc and CUDA's
(cuBLASLt, from CUDA_LIBRARY_DIR here, the GPU machine's own there), and
`llmbed info` / `embed --device cpu` work, the test binary lists its tests
and the kernel bench reaches the CUDA runtime (which then finds no GPU).

Usage: check_gpu_bundle.py SOURCE_DIR BUILD_DIR CUDA_LIBRARY_DIR
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from process_checks import Checks, dynamic_loader  # noqa: E402

check = Checks()

# What the GPU machine provides itself: glibc, and its driver and CUDA (cuBLASLt).
PROVIDED = re.compile(r"^(ld-linux.*|libc|libm|libpthread|libdl|librt|libresolv|libutil|libcuda|libcudart|libcublas"
                      r"|libcublasLt)\.so")


def run(argv, cwd, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "LLMBED_CUDA_PLUGIN")}
    env.update(env_extra or {})
    p = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def foreign_libraries(loader_log, bundle):
    """Libraries the loader mapped from outside the bundle, glibc aside."""
    foreign = set()
    for line in loader_log.splitlines():
        m = re.search(r"calling init: (\S+)", line) or re.search(r"file=(\S+) \[0\];\s+dynamically loaded by", line)
        if not m:
            continue
        path = m.group(1)
        name = os.path.basename(path)
        if not os.path.realpath(path).startswith(os.path.realpath(bundle) + os.sep) and not PROVIDED.match(name):
            foreign.add(path)
    return sorted(foreign)


def main():
    source, build, cuda_lib_dir = sys.argv[1], sys.argv[2], sys.argv[3]
    work = tempfile.mkdtemp(prefix="llmbed-gpu-bundle-")
    try:
        bundle = os.path.join(work, "bundle")
        code, out, err = run(["bash", os.path.join(source, "bench/gpu_check.sh"), "--prepare", bundle, "--build-dir",
                              build, "--no-build"], source)
        check(code == 0, f"gpu_check.sh --prepare exits 0 (got {code}: {err.strip()[-400:]})")
        if code != 0:
            return
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(bundle) for f in fs)
        print(f"      bundle {size} bytes ({size / 2**20:.1f} MiB)")
        check(size <= 48 * 2**20, f"bundle {size / 2**20:.1f} MiB <= 48 MiB")
        check(size > 1 * 2**20, "the size check can fail (the bundle is not empty)")

        code, out, _ = run(["bash", os.path.join(bundle, "run.sh"), "--dry-run"], work)
        budgets = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\S+)\s+(\d+)s\s", out, re.M)}
        wanted = {"unpack", "probe", "gpu-tests", "model", "kernels", "bench-512", "bench-mixed", "ledger",
                  "memcheck", "racecheck", "synccheck"}
        check(code == 0 and wanted <= set(budgets), f"run.sh --dry-run lists every step (got {sorted(budgets)})")
        total = budgets.get("total", 10**9)
        check(total <= 540 and sum(v for k, v in budgets.items() if k != "total") == total,
              f"the step budgets add up to {total} s <= 540 s (9 minutes)")

        unpacked = os.path.join(work, "unpacked")
        os.mkdir(unpacked)
        subprocess.run(["tar", "-C", unpacked, "-xJf", os.path.join(bundle, "payload.tar.xz")], check=True)
        ld_so = dynamic_loader()
        model = os.path.join(unpacked, "data/models/qwen3-tiny")
        ids = os.path.join(work, "ids.jsonl")
        with open(ids, "w") as f:
            f.write('{"input_ids": [1, 2, 3]}\n')
        cli = os.path.join(unpacked, "bin/llmbed")
        runs = [
            ("llmbed info", [cli, "info", "--model", model], lambda c, o, e: c == 0 and "qwen3" in o),
            ("llmbed embed --device cpu", [cli, "embed", "--model", model, "--input", ids, "--output",
                                           os.path.join(work, "o.npy"), "--device", "cpu", "--quiet"],
             lambda c, o, e: c == 0),
            ("llmbed_test_gpu --list-tests", [os.path.join(unpacked, "bin/llmbed_test_gpu"), "--list-tests"],
             lambda c, o, e: "test cases" in o),  # Catch v2 exits with the number of tests listed
            ("llmbed_gpu_kernel_bench", ["--library-path", cuda_lib_dir, os.path.join(unpacked, "bin/llmbed_gpu_kernel_bench")],
             lambda c, o, e: "cudaGetDeviceProperties" in e),
        ]
        for what, argv, ok in runs:
            code, out, err = run([ld_so, "--inhibit-cache"] + argv, work, {"LD_DEBUG": "files"})
            lines = [l for l in err.splitlines() if not re.match(r"^\s*\d+:", l)]
            check(ok(code, out, "\n".join(lines)), f"bundled {what} starts (exit {code}: {' '.join(lines)[-300:]})")
            foreign = foreign_libraries(err, unpacked)
            check(foreign == [], f"bundled {what} maps no library from outside the bundle but glibc (got {foreign})")
        check(foreign_libraries("  1: calling init: /usr/lib/x86_64-linux-gnu/libcjson.so.1", unpacked) != [],
              "the outside-library check can fail")
        # The auto device finds the bundled CUDA module beside bin/ (lib/) and says why it runs on the CPU.
        code, _, err = run([cli, "embed", "--model", model, "--input", ids, "--output", os.path.join(work, "a.npy"),
                            "--quiet"], work)
        check(code == 0 and "llmbed: note: device auto" in err, f"bundled embed --device auto runs (got {code}: {err})")
    finally:
        shutil.rmtree(work)
        check.exit()


if __name__ == "__main__":
    main()
