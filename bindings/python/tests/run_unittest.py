"""Runs the suite with unittest and prints the closing `N passed, N failed`
line that tools/check-bindings.sh reads (for machines without pytest)."""
import os
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))
suite = unittest.defaultTestLoader.discover(here, top_level_dir=here)
res = unittest.TextTestRunner(verbosity=2).run(suite)
failed = len(res.failures) + len(res.errors) + len(res.unexpectedSuccesses)
passed = res.testsRun - failed - len(res.skipped)
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
