"""The one scheduler table: every scheduler is complete, named as other tools name it, and torch-free."""

from __future__ import annotations

import subprocess
import sys

import pytest

from studio.engines.image_requests import SCHEDULERS, ImageRequest
from studio.engines.schedulers import (
    SCHEDULER_SPECS,
    Scheduler,
    default_sampler_name,
    parse_scheduler,
    scheduler_for_sampler,
)


def test_every_scheduler_has_one_spec_in_the_request_order() -> None:
    assert list(SCHEDULER_SPECS) == list(Scheduler)
    assert tuple(Scheduler) == SCHEDULERS
    assert SCHEDULERS[0] == "default"
    assert all(spec.label for spec in SCHEDULER_SPECS.values())
    assert len({spec.label for spec in SCHEDULER_SPECS.values()}) == len(SCHEDULER_SPECS)


def test_requests_accept_the_values_and_refuse_others() -> None:
    for scheduler in Scheduler:
        assert ImageRequest("j", scheduler=scheduler.value).problem() is None
    problem = ImageRequest("j", scheduler="heun").problem() or ""
    assert "unknown scheduler 'heun'" in problem and "dpm++_karras" in problem
    assert parse_scheduler("euler_a") is Scheduler.EULER_A and parse_scheduler("heun") is None


def test_few_step_presets() -> None:
    lcm, turbo = SCHEDULER_SPECS[Scheduler.LCM], SCHEDULER_SPECS[Scheduler.TURBO]
    assert (lcm.diffusers_class, lcm.sampler, lcm.guidance) == ("LCMScheduler", "LCM", None)
    assert turbo.diffusers_class == "EulerAncestralDiscreteScheduler"
    assert dict(turbo.options) == {"timestep_spacing": "trailing"} and turbo.guidance == 0.0


@pytest.mark.parametrize(
    ("sampler", "expected"),
    [
        ("Euler a", Scheduler.EULER_A),
        ("euler_ancestral", Scheduler.EULER_A),
        ("DPM++ 2M Karras", Scheduler.DPM_PP_KARRAS),
        ("dpmpp_2m", Scheduler.DPM_PP),
        (" UniPC ", Scheduler.UNIPC),
        ("uni_pc", Scheduler.UNIPC),
        ("LCM", Scheduler.LCM),
        ("Heun", None),
        ("", None),
        (None, None),
    ],
)
def test_other_tools_sampler_names(sampler: str | None, expected: Scheduler | None) -> None:
    assert scheduler_for_sampler(sampler) is expected


def test_every_written_sampler_name_reads_back_as_its_scheduler() -> None:
    """A PNG Studio wrote with scheduler X names a sampler that selects X again (Turbo writes "Euler a")."""
    for scheduler, spec in SCHEDULER_SPECS.items():
        if spec.sampler:
            back = scheduler_for_sampler(spec.sampler)
            assert back is (Scheduler.EULER_A if scheduler is Scheduler.TURBO else scheduler)


def test_default_sampler_names() -> None:
    assert default_sampler_name("PNDMScheduler") == "PLMS"
    assert default_sampler_name("EulerDiscreteScheduler") == "Euler"
    assert default_sampler_name("SomeNewScheduler") == "SomeNewScheduler"


@pytest.mark.diffusion
@pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)
def test_every_diffusers_class_exists_and_takes_its_options() -> None:
    import diffusers

    from studio.engines.diffusion_loading import CONFIGS_DIR

    config = diffusers.PNDMScheduler.load_config(CONFIGS_DIR / "sd15" / "scheduler")
    for scheduler, spec in SCHEDULER_SPECS.items():
        if not spec.diffusers_class:
            continue
        made = getattr(diffusers, spec.diffusers_class).from_config(config, **spec.options)
        assert type(made).__name__ == spec.diffusers_class, scheduler
        for key, value in spec.options.items():
            assert made.config[key] == value, (scheduler, key)


def test_the_table_imports_no_torch_or_qt() -> None:
    """The Generate panel reads it: it must not pull torch or diffusers into the GUI process."""
    code = (
        "import sys; import studio.engines.schedulers; "
        "bad = [m for m in ('torch', 'diffusers', 'transformers', 'PySide6') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
