package data

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// pipe prepares numbered batches ahead of the consumer. A producer goroutine
// walks the batch numbers in order and hands each batch, split into chunks
// of rows, to a pool of workers; batch seq lives in slot seq mod len(slots),
// so the consumer knows where to wait for it, and a slot is reused only once
// the consumer has copied its batch out. Every row is a function of its batch
// number and row index alone (the source's fill), so the batches do not
// depend on the number of workers or on timing.
type pipe struct {
	src     source
	batch   int // rows per batch
	rowLen  int // floats per row
	workers int
	slots   []*slot

	seq     int64 // the next batch the consumer takes
	running bool
	quit    chan struct{}
	wg      sync.WaitGroup
	waited  time.Duration
}

// source describes the batches a pipe produces.
type source interface {
	// rows returns the number of rows of batch seq; 0 means that there is no
	// such batch (the end of the data).
	rows(seq int64) int
	// prepare sets a slot's labels and image indices for the batch s.seq
	// with s.n rows. It runs on the producer goroutine, batch after batch.
	prepare(s *slot)
	// fill writes row r of the slot's batch into x. It runs on the workers,
	// concurrently, in any order.
	fill(s *slot, r int, x []float32)
}

// slot is one buffer of the ring.
type slot struct {
	x       []float32
	labels  []int32
	imgs    []int32 // the image behind each row
	seq     int64
	n       int
	pending atomic.Int32  // chunks not yet filled
	ready   chan struct{} // receives once every chunk is filled
	free    chan struct{} // holds a token while the consumer does not need the slot
}

type task struct {
	s        *slot
	from, to int
}

// chunkRows is how many rows a worker fills per task.
const chunkRows = 8

func newPipe(src source, batch, rowLen, workers, ahead int) *pipe {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if ahead <= 0 {
		ahead = 3
	}
	p := &pipe{src: src, batch: batch, rowLen: rowLen, workers: workers}
	for i := 0; i < ahead; i++ {
		p.slots = append(p.slots, &slot{
			x:      make([]float32, batch*rowLen),
			labels: make([]int32, batch),
			imgs:   make([]int32, batch),
		})
	}
	return p
}

func (p *pipe) start() {
	p.quit = make(chan struct{})
	tasks := make(chan task, len(p.slots)*((p.batch+chunkRows-1)/chunkRows))
	for _, s := range p.slots {
		s.ready = make(chan struct{}, 1)
		s.free = make(chan struct{}, 1)
		s.free <- struct{}{}
	}
	p.wg.Add(1 + p.workers)
	go p.produce(p.seq, tasks, p.quit)
	for w := 0; w < p.workers; w++ {
		go p.work(tasks, p.quit)
	}
	p.running = true
}

// stop ends the goroutines; batches prepared ahead are discarded.
func (p *pipe) stop() {
	if !p.running {
		return
	}
	close(p.quit)
	p.wg.Wait()
	p.running = false
}

// seek makes batch seq the next one delivered.
func (p *pipe) seek(seq int64) {
	p.stop()
	p.seq = seq
}

func (p *pipe) produce(seq int64, tasks chan<- task, quit <-chan struct{}) {
	defer p.wg.Done()
	for ; ; seq++ {
		n := p.src.rows(seq)
		if n == 0 {
			return
		}
		s := p.slots[seq%int64(len(p.slots))]
		select {
		case <-s.free:
		case <-quit:
			return
		}
		s.seq, s.n = seq, n
		p.src.prepare(s)
		s.pending.Store(int32((n + chunkRows - 1) / chunkRows))
		for from := 0; from < n; from += chunkRows {
			// Never blocks: at most len(slots) batches are in flight and the
			// channel holds all their chunks.
			tasks <- task{s, from, min(from+chunkRows, n)}
		}
	}
}

func (p *pipe) work(tasks <-chan task, quit <-chan struct{}) {
	defer p.wg.Done()
	for {
		select {
		case <-quit:
			return
		case t := <-tasks:
			for r := t.from; r < t.to; r++ {
				p.src.fill(t.s, r, t.s.x[r*p.rowLen:(r+1)*p.rowLen])
			}
			if t.s.pending.Add(-1) == 0 {
				t.s.ready <- struct{}{}
			}
		}
	}
}

// next copies the next batch into x and labels and returns its number of
// rows, 0 at the end of the data. Rows past that number, up to the batch
// size, are zeroed and labelled −1.
func (p *pipe) next(x []float32, labels []int32) int {
	if len(x) < p.batch*p.rowLen || len(labels) < p.batch {
		panic(fmt.Sprintf("data: batch buffers hold %d floats and %d labels, want %d and %d", len(x), len(labels), p.batch*p.rowLen, p.batch))
	}
	n := p.src.rows(p.seq)
	if n == 0 {
		return 0
	}
	if !p.running {
		p.start()
	}
	s := p.slots[p.seq%int64(len(p.slots))]
	select {
	case <-s.ready:
	default:
		t0 := time.Now()
		<-s.ready
		p.waited += time.Since(t0)
	}
	copy(x, s.x[:n*p.rowLen])
	copy(labels, s.labels[:n])
	clear(x[n*p.rowLen : p.batch*p.rowLen])
	for r := n; r < p.batch; r++ {
		labels[r] = -1
	}
	p.seq++
	s.free <- struct{}{}
	return n
}
