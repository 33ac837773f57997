from drippulse.cli import main

raise SystemExit(main())
