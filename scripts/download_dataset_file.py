"""One URL split source into the download cache (rule download_dataset_file; atomic: a .part file
renamed when complete). Its log names the URL, the cached file and its sha256."""

import logging

from w2s import workflow
from w2s.sources import download_url, sha256_file

# Like every job but `prefetch`, offline unless the environment says otherwise (HF_HUB_OFFLINE=0):
# then a file missing from the cache is one message naming the config key and `snakemake prefetch`.
workflow.start(snakemake)
url, key, out = snakemake.params.source["url"], snakemake.params.source["key"], snakemake.output[0]
local = download_url(url, key=key)
if str(local) != out:
    raise SystemExit(f"error: {url} was cached as {local}, not {out}: the download cache moved (w2s.sources.DOWNLOAD_CACHE)")
logging.getLogger("w2s").info("%s -> %s (sha256 %s)", url, out, sha256_file(local))
