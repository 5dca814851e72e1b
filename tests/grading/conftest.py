"""Fixtures for grading tests: imports run inside the request, market data written as CSV/xlsx."""
import pytest


@pytest.fixture(autouse=True)
def inline_imports(request):
    if "app" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("app")
    app.config["GRADING_IMPORT_INLINE"] = True
    yield
    app.config["GRADING_IMPORT_INLINE"] = False
