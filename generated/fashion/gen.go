package fashion

// The rest of this package is generated from ../../examples/fashion.toml by
// alexnetc: run "make generate" after changing the compiler or the spec.

//go:generate go run github.com/alexnetc/alexnetc/cmd/alexnetc compile ../../examples/fashion.toml -o . -pkg fashion
