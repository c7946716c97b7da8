"""Tests of the Dialfire simulator over real HTTP."""
