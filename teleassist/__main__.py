"""``python -m teleassist`` is the same as the ``teleassist`` command."""

from teleassist.cli import main

raise SystemExit(main())
