import sys

from mfif.cli.main import main

sys.exit(main())
