# The one test command is `make test`; .ci/run calls it.
GO ?= go
STATICCHECK = honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME ?= 20s

.PHONY: test bench lint fuzz build interop

test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 8m ./...

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
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		echo "== $$t"; \
		$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./simplesockets/ || exit 1; \
	done
