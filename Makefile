# alexnetc — see README.md. `make test` is what CI runs.
GO ?= go
SPEC ?= examples/alexnet.toml

.PHONY: all build run test vet fmt-check fuzz generate check-generated fashion-mnist

all: build

build:
	$(GO) build -o bin/alexnetc ./cmd/alexnetc

# The main job: compile the paper's network into a Go package (build/alexnet,
# with its plan.json) and build that package.
OUT ?= build/alexnet
run: build
	./bin/alexnetc compile $(SPEC) -o $(OUT)
	$(GO) build ./$(OUT)

test: fmt-check vet fashion-mnist
	$(GO) test ./...

# Fashion-MNIST from Debian (dataset-fashion-mnist): the real data of the
# training tests and the default of `alexnetc train`. Without root or apt the
# tests that need it skip.
FASHION := /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
fashion-mnist:
	@[ -f $(FASHION) ] || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null; } || \
		echo "note: Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist); tests that need it will skip"

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
