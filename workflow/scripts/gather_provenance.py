"""Rule gather_provenance: every job's record -> results/provenance.json."""
import json
from pathlib import Path

from gistlm.provenance import gather

provenance = gather(snakemake.input.records, snakemake.params.config)
Path(snakemake.output.provenance).write_text(json.dumps(provenance, indent=2, sort_keys=True) + "\n")
