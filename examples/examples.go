// Package examples embeds the example specs, so that the alexnetc binary
// can check, compile and train the paper's network with no files at hand.
package examples

import "embed"

// FS holds every example spec, by file name (alexnet.toml, fashion.toml, ...).
//
//go:embed *.toml
var FS embed.FS

// Default is the spec a command uses when it is given none.
const Default = "alexnet.toml"
