package alexnet1gpu

// The rest of this package is generated from ../../examples/alexnet-1gpu.toml by
// alexnetc: run "make generate" after changing the compiler or the spec.

//go:generate go run github.com/alexnetc/alexnetc/cmd/alexnetc compile ../../examples/alexnet-1gpu.toml -o . -pkg alexnet1gpu
