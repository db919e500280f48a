# lockbench — see README.md. `make bench` and `make test` do all setup.
GO      ?= go
BIN     := bin/bench
# Testcontainers: the reaper image cannot be pulled, and every connection
# must go to the loopback address, never the default gateway.
export TESTCONTAINERS_RYUK_DISABLED ?= true
export TESTCONTAINERS_HOST_OVERRIDE ?= 127.0.0.1

.PHONY: all bench test build lint deps test-deps image gate screenshot zoo-doc clean

all: build

## deps: install redis-server, redis-tools and a C compiler when missing
deps:
	@scripts/install-deps.sh

## test-deps: deps, plus Chromium for the report's rendering test
test-deps:
	@scripts/install-deps.sh --test

## image: build the local FROM-scratch Redis image when Docker is healthy
image: deps
	@if docker info >/dev/null 2>&1; then scripts/redis-image.sh >/dev/null; \
	else echo "make: Docker is not healthy; docker-backed tests will skip"; fi

## build: the bench binary in bin/
build:
	$(GO) build -o $(BIN) ./cmd/bench

## bench: the default comparison; writes results/<run-id>/report.html and says where
bench: deps build
	./$(BIN) run

## test: vet, race-enabled tests against real Redis nodes, and the quick
##       detection matrix (every known failure, expected vs observed)
test: test-deps image build
	$(GO) vet ./...
	$(GO) test -race -timeout 12m ./...
	./$(BIN) zoo --quick

## gate: run the ci scenario beside the base revision (passes alternating) and compare them paired
##       (scripts/gate.sh --help; --refresh records results/baseline/)
gate: deps
	@scripts/gate.sh

## zoo-doc: run the full detection matrix and write it to docs/zoo.md
zoo-doc: deps build
	./$(BIN) zoo --doc docs/zoo.md

## lint: formatting, vet and staticcheck (a tool in go.mod: nothing to install)
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

## screenshot: docs/report.png from headless Chromium: the report of RUN (a results/<run-id>
##       directory), else of the newest run in results/ that has one, else of the tests' synthetic run
screenshot: test-deps
	@run="$(RUN)"; if [ -z "$$run" ]; then run=$$(ls -td results/*/report.html 2>/dev/null | head -1 | xargs -r dirname); fi; \
	if [ -n "$$run" ]; then run=$$(cd "$$run" && pwd); echo "screenshot of $$run"; else echo "screenshot of the synthetic test run"; fi; \
	LOCKBENCH_WRITE_SCREENSHOT=1 LOCKBENCH_SCREENSHOT_RUN="$$run" $(GO) test -count=1 -run '^TestWriteScreenshot$$' -v ./report

clean:
	rm -rf bin
