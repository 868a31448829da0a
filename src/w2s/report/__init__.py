"""Paper-style tables, figures and their provenance, from the files the workflow writes.

One module per job:

- ``spec``: the rows (key, label, stage, iteration), roles, seeds and grading mode the rule passes;
  the report holds no list of methods.
- ``evaluations``: the graded predictions and metrics files of the main table.
- ``main``: the main table's numbers: per seed accuracy, PGR and stage gains with seeded bootstrap
  intervals; mean and spread across seeds.
- ``main_table``: its displays (accuracy and PGR; stage gains) and the make_tables rule's one call.
- ``passk``: pass@k of M_plus's stage II samples.
- ``data_quality``: how right every training set is against the held-back train_2 gold, stage II
  read from its recorded decisions; the vote-confidence figure's data.
- ``figures``: accuracy by stage, set size vs label accuracy, vote confidence.
- ``render``: CSV, Markdown, LaTeX (booktabs) and HTML.
- ``provenance``: config hash, git state, packages, graders, grading mode, seeds, sha256 of inputs
  and outputs.

Nothing in a table depends on time, file order on disk or hash seeds: two runs give the same bytes.
"""

from .data_quality import build_confidence_figure, build_data_quality
from .main_table import build_main_table
from .passk import build_passk_table
from .provenance import config_sha256

__all__ = ["build_confidence_figure", "build_data_quality", "build_main_table", "build_passk_table", "config_sha256"]
