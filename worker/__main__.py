from worker.cli import _main

_main()
