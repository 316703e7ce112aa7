# Mai — build, test and run. `make help` lists the targets.
SHELL    := /bin/bash
GO       ?= go
# FTS5 is compiled into SQLite only with this tag; every go command here sets it.
TAGS     := sqlite_fts5
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS  := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
PKGS     := ./...
# go test's own timeout per package; the real-component tests need minutes.
TEST_TIMEOUT ?= 20m
BENCH    ?= .
BENCHTIME ?= 500ms
# Every benchmark runs this many times; the table shows medians and spreads.
BENCHCOUNT ?= 5

# BENCHMD=FILE also writes the table as Markdown (the README's Results).
BENCHMD ?=

# How long make soak sends one DM every 2 s (a Go duration; .ci/run uses 2m).
SOAK     ?= 10m

FUZZTIME ?= 10s

.PHONY: help build test bench soak fuzz run lint clean risk-compare

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

build: ## build bin/mai
	$(GO) build -tags $(TAGS) -ldflags "$(LDFLAGS)" -o bin/mai ./cmd/mai

test: ## run every test (components that are absent are skipped with the reason)
	$(GO) test -tags $(TAGS) -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)

bench: build ## run every benchmark BENCHCOUNT times, one package at a time; print one table (MAI_TEST_REQUIRE_ALL=1: a missing row fails)
	set -o pipefail; MAI_BENCH_BIN=$(CURDIR)/bin/mai $(GO) test -tags $(TAGS) -p 1 -v -run '^$$' -bench '$(BENCH)' -skip '^BenchmarkSoak$$' \
		-benchtime $(BENCHTIME) -count $(BENCHCOUNT) -benchmem -timeout $(TEST_TIMEOUT) $(PKGS) 2>&1 | $(GO) run ./tools/benchtable $(if $(BENCHMD),-md $(BENCHMD))

soak: build ## run mai serve for SOAK (10m) at one DM every 2 s with gateway drops and REST outages; print its row (a lost or duplicated reply, a 429 or RSS growth >= 10 % fails)
	set -o pipefail; MAI_SOAK=$(SOAK) MAI_BENCH_BIN=$(CURDIR)/bin/mai $(GO) test -tags $(TAGS) -v -run '^$$' -bench '^BenchmarkSoak$$' \
		-benchtime 1x -count 1 -timeout 2h ./cmd/mai 2>&1 | $(GO) run ./tools/benchtable -only '^cmd/mai Soak$$' $(if $(BENCHMD),-md $(BENCHMD))

fuzz: ## run every fuzz target for FUZZTIME each (their seeds also run in make test)
	@set -e; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' internal tools cmd); do \
		for t in $$(grep -oE '^func Fuzz[A-Za-z0-9_]+' $$f | cut -d' ' -f2); do \
			echo "== $$(dirname $$f) $$t"; \
			$(GO) test -tags $(TAGS) -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./$$(dirname $$f); \
		done; \
	done

run: build ## build, then run the daemon in the foreground (Ctrl-C stops it)
	bin/mai serve

lint: ## go vet and gofmt
	$(GO) vet -tags $(TAGS) $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

clean: ## remove build outputs
	rm -rf bin
	$(GO) clean -testcache

risk-compare: ## run Mai's risk analysis and Bandit over the Python corpus; print both confusion matrices
	$(GO) run -tags $(TAGS) ./internal/risk/cmd/riskcompare -corpus internal/risk/testdata/corpus
