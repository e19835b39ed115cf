"""``python -m bedrock_customization``: the same as the ``bedrock-customize`` command."""

import sys

from bedrock_customization.cli import main

if __name__ == "__main__":
    sys.exit(main())
