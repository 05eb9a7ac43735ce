package train

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/alexnetc/alexnetc/runtime/data"
	"github.com/alexnetc/alexnetc/runtime/device"
	"github.com/alexnetc/alexnetc/runtime/plan"
	"github.com/alexnetc/alexnetc/runtime/safetensors"
)

// State is everything besides the weights and momenta that a run needs to
// continue exactly where it stopped.
type State struct {
	Network string `json:"network"`
	Variant string `json:"variant"`
	Seed    uint64 `json:"seed"`
	Epoch   int    `json:"epoch"` // epochs finished
	Batch   int    `json:"batch"` // batches finished in the current epoch
	Step    int    `json:"step"`  // steps finished in all

	LR    float64 `json:"lr"`
	Best  float64 `json:"best"`
	Stale int     `json:"stale"`
	Drops int     `json:"drops"`

	// The running sums of the current epoch, so that a resumed epoch
	// reports what an uninterrupted one would.
	EpochLoss   float64 `json:"epoch_loss"`
	EpochErrors int     `json:"epoch_errors"`
	EpochImages int     `json:"epoch_images"`

	RNG     [][]byte      `json:"rng"`     // the dropout generator of each device
	History []EpochReport `json:"history"` // every finished epoch, for the curves
	Seconds float64       `json:"seconds"` // training time before this checkpoint
}

const checkpointFormat = "alexnetc-checkpoint-1"

// persistent lists what a checkpoint stores: every weight and bias and its
// momentum, in the graph's order.
func persistent(g *plan.Plan) []*plan.Buffer {
	var out []*plan.Buffer
	for _, b := range g.Buffers {
		if b.Role == plan.Weight || b.Role == plan.Bias || b.Role == plan.Momentum {
			out = append(out, b)
		}
	}
	return out
}

// SaveCheckpoint writes a checkpoint atomically: to a temporary file in the
// same folder, synced, then renamed over the old one, so that a crash at any
// moment leaves either the old checkpoint or the new one, never a torn file.
func SaveCheckpoint(path string, e device.Backend, st *State) error {
	st.RNG = st.RNG[:0]
	if g, ok := e.(device.Generators); ok {
		rngs, err := g.Generators()
		if err != nil {
			return err
		}
		st.RNG = rngs
	}
	f := &safetensors.File{Metadata: map[string]string{"format": checkpointFormat}}
	for _, b := range persistent(e.Plan()) {
		w, err := read(e, b)
		if err != nil {
			return err
		}
		f.Tensors = append(f.Tensors, safetensors.FromFloat32(b.Name, b.Shape, w))
	}
	state, err := json.Marshal(st)
	if err != nil {
		return err
	}
	f.Metadata["state"] = string(state)
	f.Metadata["sha256"] = checksum(f)
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, f); err != nil {
		return err
	}
	return writeAtomic(path, buf.Bytes())
}

// checksum covers the state and every tensor's name, shape and bytes.
func checksum(f *safetensors.File) string {
	h := sha256.New()
	h.Write([]byte(f.Metadata["state"]))
	ts := append([]safetensors.Tensor(nil), f.Tensors...)
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	for _, t := range ts {
		fmt.Fprintf(h, "\x00%s%v%s\x00", t.Name, t.Shape, t.DType)
		h.Write(t.Data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// writeAtomic replaces path with data: temp file, fsync, rename, fsync of
// the folder.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// ErrNoCheckpoint is returned by LoadCheckpoint when there is none to resume.
var ErrNoCheckpoint = errors.New("no checkpoint")

// LoadCheckpoint reads a checkpoint into the engine's weights, momenta and
// generators, and returns the rest of the state. A truncated, corrupted or
// foreign file is refused with a message saying which.
func LoadCheckpoint(path string, e device.Backend) (*State, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoCheckpoint
	}
	if err != nil {
		return nil, err
	}
	f, err := safetensors.Read(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s is truncated or corrupt: %w", path, err)
	}
	if f.Metadata["format"] != checkpointFormat {
		return nil, fmt.Errorf("%s is not an alexnetc checkpoint (format %q)", path, f.Metadata["format"])
	}
	if got, want := checksum(f), f.Metadata["sha256"]; got != want {
		return nil, fmt.Errorf("checkpoint %s is corrupt: its checksum does not match its contents", path)
	}
	var st State
	if err := json.Unmarshal([]byte(f.Metadata["state"]), &st); err != nil {
		return nil, fmt.Errorf("checkpoint %s: bad state: %w", path, err)
	}
	g := e.Plan()
	if st.Network != g.Network || st.Variant != g.Variant {
		return nil, fmt.Errorf("checkpoint %s is of network %q variant %q, not %q variant %q", path, st.Network, st.Variant, g.Network, g.Variant)
	}
	for _, b := range persistent(g) {
		if err := load(e, f, b); err != nil {
			return nil, fmt.Errorf("checkpoint %s does not fit this network: %w", path, err)
		}
	}
	if gens, ok := e.(device.Generators); ok {
		if err := gens.SetGenerators(st.RNG); err != nil {
			return nil, fmt.Errorf("checkpoint %s: %w", path, err)
		}
	}
	return &st, nil
}

// SaveWeights writes the learned weights and biases, named as in the
// generated packages' weight files, with what prediction needs besides: the
// training set's mean image and channel means ("data.mean",
// "data.channel_mean") and the class names (metadata "classes").
func SaveWeights(path string, e device.Backend, meta map[string]string, stats *data.Stats, classes []string) error {
	f := &safetensors.File{Metadata: map[string]string{}}
	for k, v := range meta {
		f.Metadata[k] = v
	}
	for _, b := range e.Plan().Params() {
		w, err := read(e, b)
		if err != nil {
			return err
		}
		f.Tensors = append(f.Tensors, safetensors.FromFloat32(b.Name, b.Shape, w))
	}
	if stats != nil {
		f.Tensors = append(f.Tensors,
			safetensors.FromFloat32("data.mean", []int{stats.Channels, stats.Size, stats.Size}, stats.Mean),
			safetensors.FromFloat32("data.channel_mean", []int{stats.Channels}, stats.ChannelMean))
	}
	if classes != nil {
		names, err := json.Marshal(classes)
		if err != nil {
			return err
		}
		f.Metadata["classes"] = string(names)
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, f); err != nil {
		return err
	}
	return writeAtomic(path, buf.Bytes())
}

// Model is what LoadWeights finds besides the weights.
type Model struct {
	Stats   *data.Stats // only the means; nil if the file has none
	Classes []string    // nil if the file has none
}

// LoadWeights reads weights written by SaveWeights (or a generated package's
// Save) into a backend.
func LoadWeights(path string, e device.Backend) (*Model, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := safetensors.Read(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, b := range e.Plan().Params() {
		if err := load(e, f, b); err != nil {
			return nil, fmt.Errorf("%s does not fit this network: %w", path, err)
		}
	}
	m := &Model{}
	if t, ok := f.Get("data.mean"); ok && len(t.Shape) == 3 {
		mean, err := t.Float32s()
		if err != nil {
			return nil, err
		}
		cm := make([]float32, t.Shape[0])
		if c, ok := f.Get("data.channel_mean"); ok {
			if cm, err = c.Float32s(); err != nil {
				return nil, err
			}
		}
		m.Stats = &data.Stats{Channels: t.Shape[0], Size: t.Shape[1], Mean: mean, ChannelMean: cm}
	}
	if names := f.Metadata["classes"]; names != "" {
		if err := json.Unmarshal([]byte(names), &m.Classes); err != nil {
			return nil, fmt.Errorf("%s: bad class names: %w", path, err)
		}
	}
	return m, nil
}

// read copies a persistent buffer out of a backend.
func read(e device.Backend, b *plan.Buffer) ([]float32, error) {
	w := make([]float32, b.Elems())
	return w, e.Read(plan.Train, b.Name, w)
}

// load copies a tensor of a file into a persistent buffer of a backend.
func load(e device.Backend, f *safetensors.File, b *plan.Buffer) error {
	w := make([]float32, b.Elems())
	if err := f.Float32Into(b.Name, b.Shape, w); err != nil {
		return err
	}
	return e.Write(plan.Train, b.Name, w)
}
