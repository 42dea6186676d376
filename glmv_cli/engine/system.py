"""What the installed llama.cpp can do: its version, backends and GPU offload (for doctor)."""

from __future__ import annotations


def llama_cpp_version() -> str:
    import llama_cpp

    return str(llama_cpp.__version__)


def system_info() -> str:
    """llama.cpp's system info line: `CPU : SSE3 = 1 | AVX2 = 1 | …`, per backend."""
    import llama_cpp

    return llama_cpp.llama_print_system_info().decode()


def gpu_offload_available() -> bool:
    from glmv_cli.engine.llama import gpu_offload_available as available

    return available()
