"""``python -m contracts.simulator [OPTIONS]`` is ``alphapulse simulate [OPTIONS]`` (for supervisord)."""

import sys

from mesh.cli import main

if __name__ == "__main__":
    sys.argv[1:1] = ["simulate"]
    sys.exit(main())
