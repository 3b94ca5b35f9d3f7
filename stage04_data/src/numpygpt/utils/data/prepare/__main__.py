"""`python -m numpygpt.utils.data.prepare ...`: see numpygpt.utils.data.prepare.main."""

from numpygpt.utils.data.prepare import main

raise SystemExit(main())
