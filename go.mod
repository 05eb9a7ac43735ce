module github.com/alexnetc/alexnetc

go 1.26.8

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/alecthomas/participle/v2 v2.1.4
	github.com/dave/jennifer v1.7.1
)

require (
	github.com/mmcloughlin/avo v0.5.0 // indirect
	golang.org/x/image v0.48.0 // indirect
	golang.org/x/mod v0.6.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/tools v0.2.0 // indirect
)
