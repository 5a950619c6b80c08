## bench/ - benchmarks print figures and ratios; `make bench` runs them.
## Never part of `make check`.
BENCHES +=
EXTRA_DIST += bench/README
