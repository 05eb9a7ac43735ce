package main

import (
	"errors"
	"io"
)

func runPlan(args []string, stdout, stderr io.Writer) error {
	return errors.New("not implemented yet")
}
