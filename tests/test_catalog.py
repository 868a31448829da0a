"""The Snakemake workflow catalog's checks that run offline: `snakemake --lint`, `snakefmt --check`,
config/README.md present and describing the config, and `.snakemake-workflow-catalog.yml` valid
with its keys; plus what the file's claims (conda, report) rest on."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import ROOT

CATALOG = ROOT / ".snakemake-workflow-catalog.yml"
CONFIG_README = ROOT / "config" / "README.md"
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def rule_files() -> list[Path]:
    return [ROOT / "Snakefile", *sorted((ROOT / "rules").glob("*.smk"))]


def test_lint_and_format():
    lint = subprocess.run(SNAKEMAKE + ["--lint"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert lint.returncode == 0 and "Congratulations" in lint.stdout + lint.stderr, lint.stdout + lint.stderr
    fmt = subprocess.run([str(Path(sys.executable).parent / "snakefmt"), "--check", "."], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_catalog_file_is_valid_yaml_with_its_keys():
    usage = yaml.safe_load(CATALOG.read_text())["usage"]
    assert set(usage) == {"mandatory-flags", "software-stack-deployment", "report"}
    flags = usage["mandatory-flags"]
    assert set(flags) == {"desc", "flags"} and isinstance(flags["flags"], str) and flags["desc"].strip()
    stack = usage["software-stack-deployment"]
    assert set(stack) <= {"conda", "apptainer", "apptainer+conda", "singularity", "singularity+conda"}
    assert all(isinstance(v, bool) for v in stack.values()) and any(stack.values())
    assert isinstance(usage["report"], bool)
    # Every config file the description names exists.
    for path in re.findall(r"config/[\w/.-]+\.(?:yaml|md)", flags["desc"]):
        assert (ROOT / path).is_file(), path


def test_conda_claim_every_rule_names_an_existing_environment():
    usage = yaml.safe_load(CATALOG.read_text())["usage"]
    if not usage["software-stack-deployment"].get("conda"):
        return
    for path in rule_files():
        text = path.read_text()
        rules = re.findall(r"^rule (\w+):\n((?:    .*\n|\n)*)", text, re.M)
        for name, body in rules:
            if "script:" not in body and "shell:" not in body and "run:" not in body:
                continue  # a target rule (all, merge) runs nothing
            env = re.search(r"conda:\n\s+\"([^\"]+)\"", body)
            assert env, f"rule {name} ({path.name}) has no conda environment"
            assert (path.parent / env.group(1)).resolve().is_file(), f"rule {name}: {env.group(1)} missing"


def test_report_claim_rules_mark_outputs_for_the_report():
    usage = yaml.safe_load(CATALOG.read_text())["usage"]
    if not usage["report"]:
        return
    text = "\n".join(p.read_text() for p in rule_files())
    description = re.search(r'^report: "([^"]+)"', text, re.M)
    assert description and (ROOT / "rules" / description.group(1)).resolve().is_file()
    captions = re.findall(r'caption="([^"]+)"', text)
    assert captions and all((ROOT / "rules" / c).resolve().is_file() for c in captions), captions


def test_config_readme_describes_every_key_of_the_schema():
    readme = CONFIG_README.read_text()
    schema = yaml.safe_load((ROOT / "config" / "schema.yaml").read_text())
    keys = set(schema["properties"])
    keys |= set(schema["$defs"]["experiment"]["properties"]) | set(schema["$defs"]["model"]["properties"])
    missing = sorted(k for k in keys if not re.search(rf"`{re.escape(k)}[`.\s]", readme))
    assert not missing, f"config/README.md does not mention {missing}"
    for path in re.findall(r"`(config/[\w/.-]+\.yaml)`", readme):
        assert (ROOT / path).is_file(), path
