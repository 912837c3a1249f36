"""A CUDA-enabled build on a machine without the CUDA libraries (issue 20 item 5).

The CLI of a CUDA-enabled build is run through the dynamic loader with its
cache disabled (ld.so --inhibit-cache), so only the system folders are
searched: the CUDA runtime, cuBLASLt and NCCL (in /usr/local) cannot be found,
exactly as on a machine without them. Checks:
  1. `llmbed info` maps no CUDA library (LD_DEBUG=files lists every object the
     loader maps, dlopen'ed ones included) and stays under the RSS bound
     (peak resident set of the child, from wait4);
  2. there, `embed --device cpu` works, `embed` (--device auto) runs on the
     CPU with one note on stderr, and `--device cuda` fails with
     status 24 (LLMBED_ERR_NO_DEVICE) naming the missing driver library;
  3. with the toolkit's stub driver as libcuda.so.1, `--device cuda` fails
     naming the missing cuBLASLt (the module's own dependency);
  4. with the stub driver and the CUDA libraries visible, the module loads and
     reports that no usable GPU exists (status 24);
  5. a module path that does not exist is a clear error too.
Each check first runs a deliberately wrong expectation through the same
predicate where that is cheap (the RSS bound, the library scan), so the
checks are shown to be able to fail.

Usage: check_lazy_cuda.py BUILD_DIR MODEL_DIR CUDA_LIBRARY_DIR RSS_BOUND_MIB
"""
import ctypes
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from process_checks import Checks, dynamic_loader  # noqa: E402

check = Checks()

CUDA_LIBRARY = re.compile(r"lib(cudart|cublas|cublasLt|nccl|cuda|llmbed_cuda)\.so")
NO_DEVICE = 24


def run(argv, env_extra=None, stdin=None):
    """Runs argv; returns (exit status, stderr text, peak RSS in MiB)."""
    env = dict(os.environ)
    env.pop("LD_LIBRARY_PATH", None)
    env.pop("LLMBED_CUDA_PLUGIN", None)
    env.update(env_extra or {})
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as out:
        child = subprocess.Popen(argv, env=env, stdout=out, stderr=err, stdin=stdin)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = 0  # reaped by wait4; keeps Popen's destructor quiet
        err.seek(0)
        code = os.waitstatus_to_exitcode(status)
        return code, err.read().decode("utf-8", "replace"), usage.ru_maxrss / 1024.0


def driver_installed():
    try:
        ctypes.CDLL("libcuda.so.1")
        return True
    except OSError:
        return False


def cuda_objects(loader_log):
    return sorted({m.group(0) for m in CUDA_LIBRARY.finditer(loader_log)})


def main():
    build, model, cuda_lib_dir, rss_bound = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    cli = os.path.join(build, "llmbed")
    ld_so = dynamic_loader()
    hidden = [ld_so, "--inhibit-cache", cli]  # only the system folders are searched
    work = tempfile.mkdtemp(prefix="llmbed-lazy-cuda-")
    try:
        ids = os.path.join(work, "ids.jsonl")
        with open(ids, "w") as f:
            f.write('{"input_ids": [1, 2, 3, 4]}\n{"input_ids": [5, 6]}\n')
        out = os.path.join(work, "out.npy")
        numbered = lambda n: os.path.join(work, f"out{n}.npy")

        # 1. info: no CUDA object mapped, RSS under the bound.
        code, err, rss = run([cli, "info", "--model", model], {"LD_DEBUG": "files"})
        mapped = cuda_objects(err)
        check(code == 0, f"llmbed info exits 0 (got {code})")
        check(cuda_objects("file=libcublasLt.so.13 [0];") == ["libcublasLt.so"], "the library scan sees a CUDA library")
        check(mapped == [], f"llmbed info maps no CUDA library (mapped: {mapped})")
        check(not (rss_bound + 1e9 <= rss_bound), "the RSS predicate can fail")
        code, _, rss = run([cli, "info", "--model", model])
        print(f"      llmbed info peak RSS {rss:.1f} MiB (bound {rss_bound:.0f} MiB)")
        check(code == 0 and rss <= rss_bound, f"llmbed info peak RSS {rss:.1f} MiB <= {rss_bound:.0f} MiB")

        # 2. CUDA libraries out of reach: the CPU works, CUDA names what is missing.
        code, err, _ = run(hidden + ["info", "--model", model])
        check(code == 0, f"info without the CUDA libraries exits 0 (got {code}: {err.strip()[:200]})")
        code, err, _ = run(hidden + ["embed", "--model", model, "--input", ids, "--output", out, "--device", "cpu",
                                     "--quiet"])
        check(code == 0 and os.path.getsize(out) > 0, f"embed --device cpu without the CUDA libraries works "
                                                      f"(got {code}: {err.strip()[:200]})")
        code, err, _ = run(hidden + ["embed", "--model", model, "--input", ids, "--output", numbered(6), "--quiet"])
        notes = [line for line in err.splitlines() if line.startswith("llmbed: note: device auto:")]
        check(code == 0 and len(notes) == 1 and "no usable GPU, running on the CPU" in notes[0],
              f"embed (--device auto, the default) runs on the CPU with one note (got {code}: {err.strip()[:300]})")
        if driver_installed():
            print("skip  checks 2b-4: this machine has an NVIDIA driver")
            return
        code, err, _ = run(hidden + ["embed", "--model", model, "--input", ids, "--output", numbered(2),
                                     "--device", "cuda"])
        check(code == NO_DEVICE and "libcuda.so.1" in err and not os.path.exists(numbered(2)),
              f"--device cuda without a driver: status 24 naming libcuda.so.1 (got {code}: {err.strip()})")

        # 3. A driver (the toolkit's stub) but no cuBLASLt: the module's load names it.
        stub_dir = os.path.join(work, "driver")
        os.mkdir(stub_dir)
        shutil.copy(os.path.join(cuda_lib_dir, "stubs", "libcuda.so"), os.path.join(stub_dir, "libcuda.so.1"))
        code, err, _ = run([ld_so, "--inhibit-cache", "--library-path", stub_dir, cli, "embed", "--model", model,
                            "--input", ids, "--output", numbered(3), "--device", "cuda"])
        check(code == NO_DEVICE and "libcublasLt.so" in err and "libllmbed_cuda.so" in err,
              f"--device cuda without cuBLASLt: status 24 naming libcublasLt (got {code}: {err.strip()})")

        # 4. Stub driver with the CUDA libraries: the module loads, no GPU is usable.
        code, err, _ = run([cli, "embed", "--model", model, "--input", ids, "--output", numbered(4), "--device", "cuda"],
                           {"LD_LIBRARY_PATH": stub_dir, "LD_DEBUG": "files"})
        check(code == NO_DEVICE and "no usable GPU" in err and "libllmbed_cuda.so" in err,
              f"--device cuda with a stub driver: the module loads and reports no GPU (got {code}: "
              f"{[l for l in err.splitlines() if 'llmbed' in l and 'file=' not in l]})")

        # 5. A module path that does not exist.
        code, err, _ = run([cli, "embed", "--model", model, "--input", ids, "--output", numbered(5), "--device", "cuda"],
                           {"LD_LIBRARY_PATH": stub_dir, "LLMBED_CUDA_PLUGIN": os.path.join(work, "missing.so")})
        check(code == NO_DEVICE and "missing.so" in err, f"a missing module is named (got {code}: {err.strip()})")
    finally:
        shutil.rmtree(work)
        check.exit()


if __name__ == "__main__":
    main()
