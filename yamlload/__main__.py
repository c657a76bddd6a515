from __future__ import annotations

from ._entry import main

main()
