"""python -m gistlm.synthetic --out resources/extract: regenerate the shipped extract."""

import sys

from gistlm.synthetic.generate import main

sys.exit(main())
