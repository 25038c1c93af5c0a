"""Test suite of rec-gym (a package so that test modules in sub-folders may share names)."""
