"""CPU facts from the operating system's description: model, flags, AMX, physical cores."""

from __future__ import annotations

from studio.cpu import CpuInfo, cpu_info, default_threads, parse_cpuinfo


def cpuinfo_block(processor: int, core: int, flags: str) -> str:
    return (
        f"processor\t: {processor}\nvendor_id\t: GenuineIntel\n"
        "model name\t: Intel(R) Xeon(R) Platinum 8480C\n"
        f"physical id\t: 0\ncore id\t\t: {core}\nflags\t\t: {flags}\n"
    )


SAPPHIRE_RAPIDS_FLAGS = "fpu sse4_2 avx avx2 fma f16c avx512f avx512bw avx512_bf16 amx_bf16 amx_tile amx_int8"


def test_hyperthreads_count_once_and_amx_is_seen() -> None:
    # two physical cores, each with two hyper-threads (processors 0/2 on core 0, 1/3 on core 1)
    text = "\n".join(cpuinfo_block(processor, processor % 2, SAPPHIRE_RAPIDS_FLAGS) for processor in range(4))
    model, flags, physical = parse_cpuinfo(text)
    assert model == "Intel(R) Xeon(R) Platinum 8480C"
    assert physical == 2
    info = CpuInfo(model=model, flags=flags, logical_cores=4, physical_cores=physical)
    assert info.has_amx
    assert info.reported_flags[:3] == ["sse4_2", "avx", "avx2"]
    assert "amx_tile" in info.reported_flags


def test_a_cpu_without_amx_flags_has_no_amx() -> None:
    model, flags, _ = parse_cpuinfo(cpuinfo_block(0, 0, "fpu sse4_2 avx avx2 fma avx512f avx512_bf16"))
    assert not CpuInfo(model=model, flags=flags, logical_cores=1, physical_cores=1).has_amx


def test_native_bf16_names_amx_before_avx512_bf16_and_nothing_without_either() -> None:
    def native(flags: str) -> str:
        _, parsed, _ = parse_cpuinfo(cpuinfo_block(0, 0, flags))
        return CpuInfo(model="x", flags=parsed, logical_cores=1, physical_cores=1).native_bf16

    assert native(SAPPHIRE_RAPIDS_FLAGS) == "AMX"
    assert native("fpu avx2 avx512f avx512bw avx512_bf16") == "AVX-512 BF16"  # AMD Zen 4, Cooper Lake
    assert native("fpu avx2 avx512f avx512bw avx512_vnni") == ""  # AVX-512 without BF16 (Skylake-SP)


def test_arm_cpuinfo_without_core_ids() -> None:
    text = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes\n\nprocessor\t: 1\nFeatures\t: fp asimd\n"
    _, flags, physical = parse_cpuinfo(text)
    assert "asimd" in flags
    assert physical == 0  # unknown: cpu_info() then asks /sys or falls back to the logical count


def test_this_machine_has_sensible_numbers() -> None:
    info = cpu_info()
    assert 1 <= info.physical_cores <= info.logical_cores
    assert info.model
    assert default_threads() == info.physical_cores
    assert default_threads(3) == 3
