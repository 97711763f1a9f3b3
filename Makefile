# steward — the two commands a new user needs are `make run` and `make test`.
GO ?= go
export GOTOOLCHAIN := local
BIN := bin/steward
WORKFLOWCHECK_VERSION := v0.6.0
STATICCHECK_VERSION := v0.8.2

.PHONY: run build test test-short lint vet staticcheck workflowcheck bench bench-smoke reliability reliability-short compose-check clean \
	cluster cluster-stop cluster-status cluster-bin

## run: build steward and start everything embedded (Temporal, Web UI, database, worker, API)
run: build
	./$(BIN) dev

build:
	$(GO) build -o $(BIN) ./cmd/steward

## test: every test, with the race detector (PostgreSQL too when TEST_DATABASE_URL is set), then the test
## that measures queueing, which skips itself under the race detector, without it
test:
	$(GO) test -race -count=1 ./...
	$(GO) test -count=1 -run '^TestNewCaseStartsDuringAClockWave$$' ./worker/

## test-short: the fast packages only (no embedded Temporal server)
test-short:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /e2e)

## lint: go vet, staticcheck and workflowcheck (determinism of workflow code)
lint: vet staticcheck workflowcheck

vet:
	$(GO) vet ./...

staticcheck:
	@command -v staticcheck >/dev/null 2>&1 || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	staticcheck ./...

workflowcheck:
	@command -v workflowcheck >/dev/null 2>&1 || $(GO) install go.temporal.io/sdk/contrib/tools/workflowcheck@$(WORKFLOWCHECK_VERSION)
	workflowcheck ./workflows/...

## bench: steward vs the raw SDK on the embedded stack (starts, step round trip, lifecycles, open-case
## footprint, timer lateness; PostgreSQL as the app database when TEST_DATABASE_URL is set) and the sla Go
## benchmarks; rewrites docs/benchmarks.md; with TEST_DATABASE_URL, the scale-out figure (one worker vs two
## against the cluster topology, its section of docs/benchmarks.md) and the reports on 100,000 cases
## (docs/benchmarks-reports.md)
bench: cluster-bin
	STEWARD_BIN=$(CURDIR)/$(BIN) STEWARD_TEMPORAL_BIN=$(CURDIR)/bin STEWARD_BENCH=full STEWARD_BENCH_REPORT=$(CURDIR)/docs/benchmarks.md \
		$(GO) test -count=1 -timeout 90m -v -run '^(TestBench|TestBenchScaleOut)$$' ./bench/
	STEWARD_BENCH_REPORTS_OUT=$(CURDIR)/docs/benchmarks-reports.md \
		$(GO) test -count=1 -timeout 20m -run '^$$' -bench '^BenchmarkReports$$' -benchtime 20x ./bench/

## bench-smoke: the benchmarks at small sizes (20 cases; the scale-out 10 a side, with TEST_DATABASE_URL) and one
## iteration of every Go benchmark, as a correctness check (CI): every case ends as it should, no errors; no figures
bench-smoke: cluster-bin
	STEWARD_BIN=$(CURDIR)/$(BIN) STEWARD_TEMPORAL_BIN=$(CURDIR)/bin STEWARD_BENCH=smoke \
		$(GO) test -count=1 -timeout 10m -v -run '^(TestBench|TestBenchScaleOut)$$' ./bench/
	$(GO) test -run '^$$' -bench . -benchtime 1x ./sla/...

## reliability: the fault battery in full (>=200 SOS cases through the API while worker and API are SIGKILLed,
## the Temporal server, PostgreSQL and Slack fail), fuzzing, the hostile table and replay; then, with
## TEST_DATABASE_URL, the battery against the cluster topology (temporal-server on PostgreSQL, two workers, two
## APIs); rewrites docs/reliability.md
reliability: cluster-bin
	STEWARD_BIN=$(CURDIR)/$(BIN) STEWARD_TEMPORAL_BIN=$(CURDIR)/bin STEWARD_RELIABILITY=full STEWARD_RELIABILITY_REPORT=$(CURDIR)/docs/reliability.md \
		$(GO) test -count=1 -timeout 60m -v -run 'TestBattery|TestChecks|TestClusterSchema' ./reliability/
	$(call cluster-battery,full,-timeout 60m)

## reliability-short: the battery's short version (CI): 20+20 cases, two SIGKILLs of each process, every outage
## once; embedded, then (with TEST_DATABASE_URL) against the cluster topology
reliability-short: cluster-bin
	STEWARD_BIN=$(CURDIR)/$(BIN) STEWARD_TEMPORAL_BIN=$(CURDIR)/bin STEWARD_RELIABILITY=short \
		$(GO) test -count=1 -timeout 15m -v -run 'TestBattery|TestClusterSchema' ./reliability/
	$(call cluster-battery,short,-timeout 15m)

# cluster-battery MODE,FLAGS: the battery against the cluster topology; it needs PostgreSQL (TEST_DATABASE_URL).
define cluster-battery
	@if [ -z "$$TEST_DATABASE_URL" ]; then echo "reliability: cluster topology skipped: it runs on PostgreSQL (set TEST_DATABASE_URL)"; else \
	STEWARD_BIN=$(CURDIR)/$(BIN) STEWARD_TEMPORAL_BIN=$(CURDIR)/bin STEWARD_RELIABILITY=$(1) STEWARD_RELIABILITY_TOPOLOGY=cluster \
		$(if $(filter full,$(1)),STEWARD_RELIABILITY_REPORT=$(CURDIR)/docs/reliability.md) \
		$(GO) test -count=1 $(2) -v -run TestBattery ./reliability/; fi
endef

compose-check:
	docker-compose -f docker-compose.yml config -q

## cluster-bin: steward and the official Temporal server and schema tool, built from go.mod's go.temporal.io/server
cluster-bin: build
	$(GO) build -o bin/temporal-server go.temporal.io/server/cmd/server
	$(GO) build -o bin/temporal-sql-tool go.temporal.io/server/cmd/tools/sql

## cluster: the production topology on this machine (README "Against a real cluster"): Temporal's schemas on the
## local PostgreSQL (temporal-sql-tool), temporal-server (deploy/temporal/config.yaml), steward migrate and setup,
## two steward workers and two steward APIs (127.0.0.1:18081, :18082); pid and log files in data/cluster
cluster: cluster-bin
	deploy/cluster/cluster.sh up

cluster-stop:
	deploy/cluster/cluster.sh down

cluster-status:
	deploy/cluster/cluster.sh status

clean:
	rm -rf bin
