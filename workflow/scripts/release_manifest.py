"""Rule release_manifest: report, figures, audited tables -> results/release/ with MANIFEST.tsv."""

import shutil
from pathlib import Path

import pandas as pd

from gistlm.provenance import recorded
from gistlm.release.audit import manifest

with recorded(snakemake):
    inputs, output = snakemake.input, snakemake.output
    shutil.copyfile(inputs.report, output.report)
    figures = Path(output.figures)
    figures.mkdir(parents=True, exist_ok=True)
    for name in snakemake.params.figures:
        shutil.copyfile(inputs[name], figures / Path(inputs[name]).name)
    folder = Path(output.manifest).parent
    manifest(folder, pd.read_csv(inputs.audit, keep_default_na=False)).to_csv(output.manifest, sep="\t", index=False)
