"""Shared code of the patternbench result tools (tools/report, tools/compare,
tools/sysinfo). Python 3 standard library only: the tools must run on a fresh
Debian box with nothing but python3 and gnuplot installed."""
