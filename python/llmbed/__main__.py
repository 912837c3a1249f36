"""``python -m llmbed ARGS`` runs the bundled ``llmbed`` CLI with ARGS."""
from ._cli import main

if __name__ == "__main__":
    main()
