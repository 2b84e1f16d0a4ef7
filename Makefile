# The one test command is `make test`; .ci/run calls it.
GO ?= go
STATICCHECK = honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME ?= 20s

.PHONY: test test-loaded bench lint fuzz build interop

# Packages are tested one at a time (-p 1): the flood and load tests measure
# latency, which other packages' tests running beside them would distort.
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -p 1 -timeout 8m ./...
	@# The flood and memory tests at full size, which the race detector's cost per copied byte forbids.
	$(GO) test -count=1 -timeout 2m -run 'TestFlowFloodersDoNotHurtPingers|TestMemoryFormulaHolds' ./simplesockets/

# `make test` ten times while two busy loops compete for the two CPUs: the
# check that no test is flaky on a loaded machine (about 10 minutes).
test-loaded:
	@sh -c 'while :; do :; done' & b1=$$!; sh -c 'while :; do :; done' & b2=$$!; \
	ok=0; for i in 1 2 3 4 5 6 7 8 9 10; do \
		if $(MAKE) -s test > /tmp/test-loaded.$$i.log 2>&1; then ok=$$((ok+1)); echo "run $$i: pass"; \
		else echo "run $$i: FAIL (/tmp/test-loaded.$$i.log)"; fi; \
	done; kill $$b1 $$b2; echo "$$ok of 10 passed"; test $$ok -eq 10

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./...

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=windows $(GO) vet ./...
	GOOS=darwin $(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

build:
	$(GO) build -o bin/ ./examples/...

# Each fuzz target for FUZZTIME (go test -fuzz takes one target at a time).
FUZZ_TARGETS = FuzzSplitLengthPrefixed FuzzSplitLines FuzzSplitRaw FuzzServerInput FuzzClientServerEcho
PROXY_FUZZ_TARGETS = FuzzRead
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		echo "== $$t"; \
		$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./simplesockets/ || exit 1; \
	done
	@for t in $(PROXY_FUZZ_TARGETS); do \
		echo "== $$t (PROXY protocol parser)"; \
		$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./internal/proxyproto/ || exit 1; \
	done
