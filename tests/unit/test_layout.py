"""The layout rules: logic in mailmove/ without streamlit, pages thin, app.py a router."""

import ast
from pathlib import Path

ROOT = Path(__file__).parents[2]


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_mailmove_never_imports_streamlit_outside_ui() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "mailmove").rglob("*.py")
        if "ui" not in p.relative_to(ROOT / "mailmove").parts and "streamlit" in imports(p)
    ]
    assert not offenders


def test_pages_are_thin() -> None:
    for page in (ROOT / "pages").glob("*.py"):
        tree = ast.parse(page.read_text(encoding="utf-8"))
        defs = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)]
        assert not defs, f"{page.name} defines logic; move it into mailmove/"


def test_app_is_the_router() -> None:
    source = (ROOT / "app.py").read_text(encoding="utf-8")
    assert "st.navigation(" in source
    for page in (ROOT / "pages").glob("*.py"):
        assert f'"pages/{page.name}"' in source, f"{page.name} is not routed"


def test_nothing_user_specific_is_cached_across_sessions() -> None:
    """st.cache_data/cache_resource are shared by every session of the process: only the
    configuration and the database handle may live there, never a user's data."""
    allowed = {("mailmove/ui/frame.py", "config"), ("mailmove/ui/frame.py", "store")}
    found: set[tuple[str, str]] = set()
    for path in [*(ROOT / "mailmove").rglob("*.py"), *(ROOT / "pages").glob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        decorators = {
            id(sub)
            for fn in ast.walk(tree)
            if isinstance(fn, ast.FunctionDef)
            for deco in fn.decorator_list
            for sub in ast.walk(deco)
        }
        for node in ast.walk(tree):
            if id(node) in decorators:
                continue
            if isinstance(node, ast.FunctionDef):
                for deco in node.decorator_list:
                    target = deco.func if isinstance(deco, ast.Call) else deco
                    if isinstance(target, ast.Attribute) and target.attr.startswith("cache"):
                        found.add((str(path.relative_to(ROOT)), node.name))
            elif (
                isinstance(node, ast.Attribute)
                and node.attr in {"cache_data", "cache_resource"}
                and isinstance(node.value, ast.Name)
                and node.value.id == "st"
            ):
                found.add((str(path.relative_to(ROOT)), "<direct use>"))
    assert found - allowed == set()
    assert ("mailmove/ui/frame.py", "config") in found  # the scan works
