"""The workflow's own configuration (config/config.yaml), for tests that use its values rather than
their own: hand-made extracts built to pass its rules, the data stages run as the rules run them."""

from pathlib import Path

import yaml

CONFIG = yaml.safe_load((Path(__file__).resolve().parents[1] / "config" / "config.yaml").read_text())
