"""``python -m llmbed.train contrastive ...``: see ``llmbed.train.contrastive``."""
import sys

from .contrastive import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
