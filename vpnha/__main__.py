"""``python -m vpnha`` runs the command line."""

from __future__ import annotations

import sys

from vpnha.cli import main

sys.exit(main())
