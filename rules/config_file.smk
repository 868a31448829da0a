# Read before `configfile:` (Snakefile): a YAML mistake in the default config file is reported with
# its file, line and column, which Snakemake's own message ("Config file is not valid JSON or
# YAML") does not name. Snakemake reads --configfile overlays before any workflow code runs, so
# for them its message stands: `w2s check-config config/config.yaml <overlay>` names the place.
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from w2s.config import ConfigError, read_config_file  # noqa: E402

# Relative to the working directory, as Snakemake resolves `configfile:`.
DEFAULT_CONFIG = "config/config.yaml"
if Path(DEFAULT_CONFIG).exists():
    try:
        read_config_file(DEFAULT_CONFIG)
    except ConfigError as e:
        # The message says it all: no traceback of the workflow's code.
        sys.exit(f"error: {e}")
