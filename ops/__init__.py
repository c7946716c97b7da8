"""Operator tools: typed functions behind thin command-line interfaces."""
