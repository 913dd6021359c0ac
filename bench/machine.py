"""What machine a benchmark ran on, for its report.

int8 embedding speed depends on the processor's int8 dot-product instructions more than on its
clock: with AVX-512 VNNI (or AVX-VNNI, AMX) onnxruntime multiplies u8 x s8 in one instruction,
on plain AVX2 in three that saturate, so the same int8 model runs several times slower relative
to fp32. Reports name the processor and these flags, so numbers from two machines are not
compared as if they came from one. Standard library only.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

# Instructions onnxruntime's int8 kernels use, fastest first.
INT8_FLAGS = ("amx_int8", "avx512_vnni", "avx_vnni", "avx512bw", "avx2")


def cpu_model() -> str:
    """The processor's model name (Linux /proc/cpuinfo), or what the platform module knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def int8_instructions() -> list[str]:
    """Which of ``INT8_FLAGS`` the processor has (empty where /proc/cpuinfo is not readable)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags: set[str] = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    return [f for f in INT8_FLAGS if f in flags]


def describe() -> str:
    """One line: architecture, processor, cores, int8 instructions, Python."""
    int8 = ", ".join(int8_instructions()) or "unknown"
    return (
        f"{platform.machine()}, {cpu_model()}, {os.cpu_count()} cpus (int8: {int8}), Python {platform.python_version()}"
    )


def load_avg() -> list[float]:
    """The load average (1, 5, 15 min), rounded: these machines are shared."""
    return [round(x, 2) for x in os.getloadavg()]
