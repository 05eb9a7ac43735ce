//go:build !amd64

package cpu

// archGemmImpls returns no assembly paths: other architectures use the
// portable Go kernel.
func archGemmImpls() []*gemmImpl { return nil }
