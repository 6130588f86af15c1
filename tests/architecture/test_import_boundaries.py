"""The shared kernel imports no app, and no app hides a cycle with another behind an import
inside a function (docs/decisions/0012)."""

from __future__ import annotations

from tests.architecture.imports import (
    APPS,
    RENDERING_MODULES,
    ROOT,
    import_chain,
    imports_of,
    kernel_files,
    package_of,
    python_files,
)

# (importing file, imported module): why the import waits until the function runs. Each is a
# cost deferred, not a cycle dodged.
FUNCTION_IMPORT_EXCEPTIONS = {
    ("frontend/views.py", "scaling.simulator.plot"): (
        "matplotlib takes about 0.35 s to import; only the scaling comparison page draws"
    ),
}


def test_no_kernel_module_imports_an_app_anywhere_in_the_file():
    offending = [
        f"{found.path}:{found.line} imports {found.module}"
        + (" inside a function" if found.in_function else "")
        for path in kernel_files()
        for found in imports_of(path)
        if package_of(found.module) in APPS
    ]
    assert offending == []


def test_no_kernel_module_reaches_an_app_through_other_modules():
    chains = {
        str(path.relative_to(ROOT)): chain
        for path in kernel_files()
        if (chain := import_chain(path, APPS)) is not None
    }
    assert chains == {}


def test_no_app_imports_another_app_inside_a_function():
    offending = []
    for path in python_files(*APPS, "control_plane"):
        for found in imports_of(path):
            importer = package_of(found.path.replace("/", "."))
            imported = package_of(found.module)
            crosses = imported in APPS and imported != importer
            excepted = (found.path, found.module) in FUNCTION_IMPORT_EXCEPTIONS
            if found.in_function and crosses and not excepted:
                offending.append(f"{found.path}:{found.line} imports {found.module}")
    assert offending == []


def test_every_listed_exception_is_still_needed():
    present = {
        (found.path, found.module)
        for path in python_files(*APPS)
        for found in imports_of(path)
        if found.in_function
    }
    assert set(FUNCTION_IMPORT_EXCEPTIONS) <= present


def test_no_manifests_module_imports_the_settings():
    offending = [
        f"{found.path}:{found.line} imports {found.module}"
        for relative in RENDERING_MODULES
        for found in imports_of(ROOT / relative)
        if found.module == "django.conf" or found.module.startswith("django.conf.")
    ]
    assert offending == []
