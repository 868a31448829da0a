"""The `w2s` command: its defaults and ranges are config/schema.yaml's."""

import pytest

from tests.conftest import ROOT
from w2s import cli, registry
from w2s.config import schema_default


def parse(*argv):
    return cli.build_parser().parse_args(list(argv))


def test_mine_pairs_defaults_are_the_schemas():
    args = parse("mine-pairs", "--task", "math", "q", "w", "s", "out")
    assert args.tau == schema_default("experiments.*.stage2.tau")
    assert args.flip_threshold == schema_default("experiments.*.stage2.flip_threshold")
    assert args.mode == schema_default("grading.mode") and args.seed == schema_default("seeds")[0]
    assert args.max_pairs is None  # the task's: w2s.registry.TASKS (3 for MATH)


@pytest.mark.parametrize("argv, message", [
    (["--tau", "1.5"], "argument --tau: 1.5 is greater than the maximum of 1 (allowed: >= 0 and <= 1"),
    (["--flip-threshold", "-0.1"], "argument --flip-threshold: -0.1 is less than the minimum of 0"),
    (["--max-pairs", "0"], "argument --max-pairs: 0 is less than the minimum of 1"),
    (["--seed", "-2"], "argument --seed: -2 is less than the minimum of 0"),
    (["--tau", "high"], "argument --tau: 'high' is not a number"),
    (["--mode", "fuzzy"], "argument --mode: invalid choice: 'fuzzy'"),
])
def test_out_of_range_options_name_the_option_and_the_range(capsys, argv, message):
    with pytest.raises(SystemExit) as err:
        parse("mine-pairs", "--task", "gsm8k", *argv, "q", "w", "s", "out")
    assert err.value.code == 2
    assert message in capsys.readouterr().err


def test_task_choices_are_the_registry_tasks(capsys):
    with pytest.raises(SystemExit):
        parse("grade", "--task", "svamp", "in", "out")
    err = capsys.readouterr().err
    assert all(task in err for task in registry.TASKS)


def test_check_config_accepts_the_example_overlays(capsys):
    assert cli.main(["check-config", str(ROOT / "config/config.yaml"),
                     str(ROOT / "config/examples/toy-rpo-simpo.yaml")]) == 0
    assert "config OK" in capsys.readouterr().out
