from trayproxy.cli import main

raise SystemExit(main())
