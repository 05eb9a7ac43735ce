package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/alexnetc/alexnetc/diag"
	"github.com/alexnetc/alexnetc/experiments/ablate"
)

// listFlag collects a flag given several times.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, "; ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func runAblate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ablate", flag.ContinueOnError)
	variants := fs.String("variants", "", "comma-separated variants of the spec to train beside the base: names, all or none "+
		"(default: all the spec declares, or none when --set is given)")
	base := fs.String("base", "", "train this variant of the spec as the base, the other variants being patches over it (default: the spec's network)")
	var sets listFlag
	fs.Var(&sets, "set", "a variant given as a patch, '[NAME:] PATCH' in the language of [[variant]] patch strings (repeatable); "+
		"errors point at --set:N:COL, the N-th --set")
	seeds := fs.Int("seeds", 1, "train every network with this many seeds: [train] seed, seed+1, ...")
	budget := fs.String("budget", "", "how long each run trains: epochs (3e) or training time (10m, 1h30m), ending with the epoch in which it runs out (default: [train] epochs)")
	trainSubset := fs.Int("train-subset", 0, "train on the first N training images only (0: all)")
	testSubset := fs.Int("test-subset", 0, "test on the first N test images only (0: all)")
	target := fs.Float64("target-error", ablate.DefaultTarget, "the training error whose time to reach is reported (the paper: 0.25)")
	out := fs.String("out", "", "folder for the runs and the reports (default: runs/ablate-NAME)")
	dataPath := fs.String("data", "", "where the data set lies (overrides [data] path)")
	workers := fs.Int("workers", 0, "goroutines preparing images (default: one per core)")
	every := fs.Int("checkpoint-every", 100, "save a checkpoint every N steps as well as after every epoch (0: per epoch only)")
	pos, err := parseFlags(fs, args, stderr)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageError{"expected one spec file"}
	}
	if *seeds < 1 || *trainSubset < 0 || *testSubset < 0 || *workers < 0 || *every < 0 {
		return usageError{"--seeds must be at least 1; --train-subset, --test-subset, --workers and --checkpoint-every must not be negative"}
	}
	if *target <= 0 || *target >= 1 {
		return usageError{"--target-error must lie between 0 and 1"}
	}
	var b ablate.Budget
	if *budget != "" {
		if b, err = ablate.ParseBudget(*budget); err != nil {
			return usageError{err.Error()}
		}
	}
	s, err := readSpecOr(first(pos), trainDefault)
	if err != nil {
		return err
	}
	if *base != "" {
		b, diags := s.ApplyVariant(*base)
		if len(diags) > 0 {
			return diags
		}
		s = b
	}
	if *dataPath != "" {
		s.Data.Path = *dataPath
	}

	var diags diag.List
	var vs []ablate.Variant
	names := splitNames(*variants)
	switch {
	case *variants == "none", *variants == "" && len(sets) > 0:
	case *variants == "all":
		vs, diags = ablate.Declared(s, nil)
	default:
		vs, diags = ablate.Declared(s, names)
	}
	if *base != "" {
		// The base's own variant would train the base again.
		kept := vs[:0]
		for _, v := range vs {
			if v.Name != *base {
				kept = append(kept, v)
			}
		}
		vs = kept
	}
	more, errs := ablate.ParsePatches("--set", sets)
	diags.Append(errs)
	vs = append(vs, more...)
	// The variants that parsed are checked too, so that every error is
	// reported at once.
	diags.Append(ablate.Check(ablate.Config{Spec: s, Variants: vs}))
	if len(diags) > 0 {
		return diags
	}

	dir := *out
	if dir == "" {
		dir = filepath.Join("runs", "ablate-"+s.Network.Name)
		if *base != "" {
			dir += "-" + *base
		}
	}
	var seedList []int
	for i := 0; i < *seeds; i++ {
		seedList = append(seedList, s.Train.Seed+i)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := ablate.Run(ctx, ablate.Config{Spec: s, Variants: vs, Seeds: seedList, Budget: b,
		TrainSubset: *trainSubset, TestSubset: *testSubset, TargetError: *target, Out: dir,
		Workers: *workers, CheckpointEvery: *every, Log: stdout})
	if errors.Is(err, ablate.ErrInterrupted) {
		fmt.Fprintf(stderr, "alexnetc ablate: %v\n", err)
		os.Exit(130)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, ablate.Markdown(rep))
	fmt.Fprintf(stdout, "\nreports in %s: %s, %s, %s, %s, %s\n", dir, ablate.MarkdownFile, ablate.CSVFile, ablate.JSONFile,
		ablate.EpochCurvesFile, ablate.TimeCurvesFile)
	return nil
}

// splitNames splits a comma-separated list, dropping empty names.
func splitNames(s string) []string {
	var out []string
	for _, n := range strings.Split(s, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}
