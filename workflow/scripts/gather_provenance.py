"""Rule gather_provenance: every job's record -> results/provenance.json."""

import json
from pathlib import Path

from gistlm.extract.errors import report_extract_errors
from gistlm.provenance import gather
from gistlm.rule_log import open_rule_log

log = open_rule_log(snakemake)
# a full disk gets one paragraph here too (this rule writes no provenance record of its own)
with report_extract_errors(snakemake.log[0]):
    provenance = gather(snakemake.input.records, snakemake.params.config)
    Path(snakemake.output.provenance).write_text(json.dumps(provenance, indent=2, sort_keys=True) + "\n")
    log.info("joined %d records into %s", len(provenance["records"]), snakemake.output.provenance)
