"""The suite itself: every test file runs under both runners.

pytest-odoo collects every ``tests/test_*.py`` by its name; Odoo's own runner
(``--test-tags``) only runs the modules ``tests/__init__.py`` imports. A file
missing there passes under one runner and is silently skipped by the other.
"""

import ast
import importlib
import inspect
import os
from unittest import TestCase

from odoo.tests import BaseCase, tagged

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))


def imported_by_package_init():
    """Module names ``tests/__init__.py`` imports (``from . import x``)."""
    with open(os.path.join(TESTS_DIR, "__init__.py"), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and not node.module:
            names.update(alias.name for alias in node.names)
    return names


def files_named_test():
    return {
        name[: -len(".py")]
        for name in os.listdir(TESTS_DIR)
        if name.startswith("test_") and name.endswith(".py")
    }


@tagged("post_install", "-at_install")
class TestSuiteLayout(BaseCase):
    def test_every_test_file_is_imported_by_the_package(self):
        missing = sorted(files_named_test() - imported_by_package_init())
        self.assertEqual(
            missing, [], "not imported by tests/__init__.py: Odoo's runner skips them"
        )

    def test_the_package_imports_only_existing_files(self):
        self.assertLessEqual(imported_by_package_init(), files_named_test())

    def test_inherited_test_methods_run_under_odoo_runner_too(self):
        """Odoo's runner runs only the test methods a class defines itself,
        pytest-odoo the inherited ones too: a class that inherits tests must
        say ``allow_inherited_tests_method``."""
        package = __name__.rsplit(".", 1)[0]
        silent = []
        for name in sorted(files_named_test()):
            module = importlib.import_module("%s.%s" % (package, name))
            for cls in vars(module).values():
                if not (
                    inspect.isclass(cls)
                    and issubclass(cls, TestCase)
                    and cls.__module__ == module.__name__
                ):
                    continue
                inherited = [
                    m
                    for m, _f in inspect.getmembers(cls, callable)
                    if m.startswith("test") and m not in vars(cls)
                ]
                if inherited and not getattr(
                    cls, "allow_inherited_tests_method", False
                ):
                    silent.append("%s.%s" % (name, cls.__name__))
        self.assertEqual(silent, [], "inherited tests Odoo's runner would skip")
