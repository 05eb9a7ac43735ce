package alexnet

// The rest of this package is generated from ../../examples/alexnet.toml by
// alexnetc: run "make generate" after changing the compiler or the spec.

//go:generate go run github.com/alexnetc/alexnetc/cmd/alexnetc compile ../../examples/alexnet.toml -o . -pkg alexnet
