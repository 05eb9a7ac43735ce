# alexnetc — see README.md. `make test` is what CI runs.
GO ?= go
SPEC ?= examples/alexnet.toml

.PHONY: all build run test vet fmt-check fuzz generate check-generated

all: build

build:
	$(GO) build -o bin/alexnetc ./cmd/alexnetc

# The main job: check the paper's network (compile arrives with the compiler).
run: build
	./bin/alexnetc check $(SPEC)

test: fmt-check vet
	$(GO) test ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Short runs of every fuzz target; FUZZTIME=10m for a long one.
FUZZTIME ?= 20s
fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzParse -fuzztime=$(FUZZTIME) ./spec/
	$(GO) test -run='^$$' -fuzz=FuzzBuild -fuzztime=$(FUZZTIME) ./spec/internal/tomlpos/
	$(GO) test -run='^$$' -fuzz=FuzzParseRef -fuzztime=$(FUZZTIME) ./spec/expr/
	$(GO) test -run='^$$' -fuzz=FuzzParseCall -fuzztime=$(FUZZTIME) ./spec/expr/
	$(GO) test -run='^$$' -fuzz=FuzzParsePatch -fuzztime=$(FUZZTIME) ./spec/expr/

# Regenerate the committed Go packages in generated/ from the example specs
# (each package's gen.go holds its //go:generate line).
generate:
	$(GO) generate ./generated/...

# Regenerate generated/ and fail if that changed anything; generated/ is then
# restored as it was, so the check leaves the tree alone.
check-generated:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	cp -Rp generated "$$tmp/generated" && \
	$(GO) generate ./generated/... >/dev/null && \
	if ! diff -r -q "$$tmp/generated" generated; then \
		rm -rf generated && cp -Rp "$$tmp/generated" generated; \
		echo "stale generated files: run make generate" >&2; exit 1; \
	fi
