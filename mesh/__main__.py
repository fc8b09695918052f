"""``python -m mesh`` runs the ``alphapulse`` command line."""

import sys

from mesh.cli import main

sys.exit(main())
