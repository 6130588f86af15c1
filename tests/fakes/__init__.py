"""In-process fakes of external servers, for tests."""
