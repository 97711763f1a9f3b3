# steward — the two commands a new user needs are `make run` and `make test`.
GO ?= go
export GOTOOLCHAIN := local
BIN := bin/steward
WORKFLOWCHECK_VERSION := v0.6.0
STATICCHECK_VERSION := v0.8.2

.PHONY: run build test test-short lint vet staticcheck workflowcheck bench bench-smoke reliability reliability-short compose-check clean

## run: build steward and start everything embedded (Temporal, Web UI, database, worker, API)
run: build
	./$(BIN) dev

build:
	$(GO) build -o $(BIN) ./cmd/steward

## test: every test, with the race detector (PostgreSQL too when TEST_DATABASE_URL is set)
test:
	$(GO) test -race -count=1 ./...

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
## benchmarks; rewrites docs/benchmarks.md; with TEST_DATABASE_URL, the reports on 100,000 cases too
## (docs/benchmarks-reports.md)
bench: build
	STEWARD_BIN=$(CURDIR)/$(BIN) STEWARD_BENCH=full STEWARD_BENCH_REPORT=$(CURDIR)/docs/benchmarks.md \
		$(GO) test -count=1 -timeout 90m -v -run '^TestBench$$' ./bench/
	STEWARD_BENCH_REPORTS_OUT=$(CURDIR)/docs/benchmarks-reports.md \
		$(GO) test -count=1 -timeout 20m -run '^$$' -bench '^BenchmarkReports$$' -benchtime 20x ./bench/

## bench-smoke: the benchmarks at small sizes (20 cases) and one iteration of every Go benchmark, as a
## correctness check (CI): every case ends as it should, no errors; no figures
bench-smoke: build
	STEWARD_BIN=$(CURDIR)/$(BIN) STEWARD_BENCH=smoke $(GO) test -count=1 -timeout 10m -v -run '^TestBench$$' ./bench/
	$(GO) test -run '^$$' -bench . -benchtime 1x ./sla/...

## reliability: the fault battery in full (>=200 SOS cases through the API while worker and API are SIGKILLed,
## the Temporal server, PostgreSQL and Slack fail), fuzzing, the hostile table and replay; rewrites docs/reliability.md
reliability: build
	STEWARD_BIN=$(CURDIR)/$(BIN) STEWARD_RELIABILITY=full STEWARD_RELIABILITY_REPORT=$(CURDIR)/docs/reliability.md \
		$(GO) test -count=1 -timeout 60m -v -run 'TestBattery|TestChecks' ./reliability/

## reliability-short: the battery's short version (CI): 20+20 cases, two SIGKILLs each, every outage once
reliability-short: build
	STEWARD_BIN=$(CURDIR)/$(BIN) STEWARD_RELIABILITY=short $(GO) test -count=1 -timeout 15m -v -run TestBattery ./reliability/

compose-check:
	docker-compose -f docker-compose.yml config -q

clean:
	rm -rf bin
