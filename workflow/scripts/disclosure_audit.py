"""Rule disclosure_audit: released tables + register -> results/release/disclosure_audit.csv (stops a release that leaks)."""

import sys
from pathlib import Path

from gistlm.extract.errors import ExtractError
from gistlm.provenance import recorded
from gistlm.release.audit import audit, failure_message, failures, read_released
from gistlm.release.count_register import read_register

with recorded(snakemake):
    result = audit(read_register(snakemake.input.register), read_released(snakemake.input.tables))
    result.to_csv(snakemake.output.audit, index=False)
    if len(failures(result)):
        message = failure_message(result, snakemake.output.audit)
        if snakemake.params.release:
            # an earlier run's manifest would make the leaking folder look releasable
            Path(snakemake.output.audit).with_name("MANIFEST.tsv").unlink(missing_ok=True)
            raise ExtractError(message)
        print(f"gistlm: warning: {message}", file=sys.stderr)
