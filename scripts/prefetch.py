"""Every configured hub model and hub or URL dataset into the caches (`snakemake prefetch --cores 1`)."""

import logging

from w2s import hub, workflow

# The one job that goes online, whatever HF_HUB_OFFLINE says.
workflow.start(snakemake, hub_online=True)
p = snakemake.params
done = hub.prefetch(p.models, p.sources, p.download_cache)
logging.getLogger("w2s").info("prefetch: %d item(s) in the caches (hub: %s, datasets: %s, files: %s)", len(done),
                              hub.hub_cache(), hub.datasets_cache(), p.download_cache)
