# steward — the two commands a new user needs are `make run` and `make test`.
GO ?= go
export GOTOOLCHAIN := local
BIN := bin/steward
WORKFLOWCHECK_VERSION := v0.6.0

.PHONY: run build test test-short lint vet workflowcheck bench bench-smoke compose-check clean

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

## lint: go vet and workflowcheck (determinism of workflow code)
lint: vet workflowcheck

vet:
	$(GO) vet ./...

workflowcheck:
	@command -v workflowcheck >/dev/null 2>&1 || $(GO) install go.temporal.io/sdk/contrib/tools/workflowcheck@$(WORKFLOWCHECK_VERSION)
	workflowcheck ./workflows/...

## bench: Go benchmarks of the sla hot paths
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./sla/...

## bench-smoke: one iteration of every benchmark, as a correctness check
bench-smoke:
	$(GO) test -run '^$$' -bench . -benchtime 1x ./sla/...

compose-check:
	docker-compose -f docker-compose.yml config -q

clean:
	rm -rf bin
