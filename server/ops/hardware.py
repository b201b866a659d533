"""The CPU a figure was measured on: its model and the vector extensions the models' kernels
use (CTranslate2, llama.cpp and onnxruntime pick AVX2, AVX-512 or VNNI code at run time,
so the same build runs several times faster on one x86-64 CPU than another). Printed by
every benchmark beside its figures. py-cpuinfo reads it portably (it takes ~1 s: it is
for benchmarks, not for the server's start)."""

from __future__ import annotations

import os
from functools import lru_cache

# The extensions worth naming, in the order a reader compares them.
VECTOR = [
    ("avx2", "AVX2"),
    ("fma", "FMA"),
    ("f16c", "F16C"),
    ("avx512f", "AVX-512F"),
    ("avx512bw", "AVX-512BW"),
    ("avx512_vnni", "AVX-512 VNNI"),
    ("avx512_bf16", "AVX-512 BF16"),
    ("avx_vnni", "AVX-VNNI"),
    ("amx_tile", "AMX"),
]


@lru_cache(maxsize=1)
def cpu_line() -> str:
    """The CPU model, its cores and vector extensions (and any ISA forced on CTranslate2)."""
    import cpuinfo

    info = cpuinfo.get_cpu_info()
    flags = set(info.get("flags", []))
    if "avx512vnni" in flags:
        flags.add("avx512_vnni")
    names = [name for flag, name in VECTOR if flag in flags] or ["no AVX2"]
    line = f"{info.get('brand_raw', 'unknown CPU')}, {os.cpu_count()} cores; {' '.join(names)}"
    forced = os.environ.get("CT2_FORCE_CPU_ISA")
    if forced:
        line += f"; CTranslate2 forced to {forced}"
    return line
