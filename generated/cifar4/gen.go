package cifar4

// The rest of this package is generated from ../../examples/cifar-4layer.toml by
// alexnetc: run "make generate" after changing the compiler or the spec.

//go:generate go run github.com/alexnetc/alexnetc/cmd/alexnetc compile ../../examples/cifar-4layer.toml -o . -pkg cifar4
