// Package bench measures steward against the raw Temporal SDK on the same embedded server: start
// overhead, step round trip, lifecycle throughput, the footprint of open cases (with the replay of the cases
// the worker's bounded workflow cache evicted) and SLA timer lateness.
// TestBench runs the Temporal server, the worker and the API as `steward` processes, so each one's CPU
// time and memory can be read from /proc, and runs the raw SDK side in the test process. `make bench`
// runs it in full and rewrites docs/benchmarks.md; `make bench-smoke` (CI) runs small sizes and checks
// only that every case ended as it should.
package bench
