"""Allow ``python -m mailmove`` as well as the ``mailmove`` console script."""

from mailmove.cli import main

raise SystemExit(main())
