package cpu

import (
	"fmt"
	"math"
)

// SoftmaxLoss is the softmax output layer with the multinomial logistic
// regression objective of the paper: the loss is the mean, over the N
// images of the batch, of the negative log-probability of the true label.
// Logits and probabilities are [N][Classes]; labels are class indices.
type SoftmaxLoss struct {
	N, Classes int
}

// Validate reports whether the shape is consistent.
func (p SoftmaxLoss) Validate() error {
	if p.N <= 0 || p.Classes <= 0 {
		return fmt.Errorf("softmax: sizes must be positive (N=%d Classes=%d)", p.N, p.Classes)
	}
	return nil
}

// The softmax kernels split the batch's rows among the worker pool's parts
// when there are enough exponentials to repay it (see tryParts); every row
// is computed as the serial loop computes it, and the loss adds the rows'
// terms in row order, so results do not depend on the thread count.

// softmaxJob is the parallel region of Softmax and Loss: it writes the rows'
// probabilities and, for Loss, their terms of the loss into terms.
type softmaxJob struct {
	p            SoftmaxLoss
	logits, prob []float32
	labels       []int32
	terms        []float64
}

var softmaxRun softmaxJob

func (j *softmaxJob) do(i, n int) {
	lo, hi := share(i, n, j.p.N)
	j.p.rows(lo, hi, j.logits, j.prob, j.labels, j.terms)
}

// lossTerms holds Loss's per-row terms; it is guarded by par.mu and kept
// between calls.
var lossTerms []float64

// Softmax writes the class probabilities of each row of logits into prob.
// It subtracts the row maximum first, so that no exponential overflows.
// prob may be the same slice as logits.
func (p SoftmaxLoss) Softmax(logits, prob []float32) {
	size := p.N * p.Classes
	checkLen("SoftmaxLoss.Softmax", "logits", size, logits)
	checkLen("SoftmaxLoss.Softmax", "prob", size, prob)
	if parts := tryParts(2*size*expCost, p.N); parts > 1 {
		softmaxRun = softmaxJob{p: p, logits: logits, prob: prob}
		runParts(&softmaxRun, parts)
		softmaxRun = softmaxJob{}
		par.mu.Unlock()
		return
	}
	p.rows(0, p.N, logits, prob, nil, nil)
}

// rows writes the probabilities of rows [lo, hi) and, if terms is not nil,
// each row's term of the loss into terms[n].
func (p SoftmaxLoss) rows(lo, hi int, logits, prob []float32, labels []int32, terms []float64) {
	for n := lo; n < hi; n++ {
		t := p.row(n, logits, prob, labels)
		if terms != nil {
			terms[n] = t
		}
	}
}

// row writes the probabilities of row n and returns its term of the loss,
// m + lse − z[label], or 0 if labels is nil.
func (p SoftmaxLoss) row(n int, logits, prob []float32, labels []int32) (term float64) {
	z := logits[n*p.Classes : (n+1)*p.Classes]
	q := prob[n*p.Classes : (n+1)*p.Classes]
	m, lse := logSumExp(z)
	if labels != nil {
		// Read before the row is overwritten, as prob may be logits.
		term = m + lse - float64(z[labels[n]])
	}
	for i, v := range z {
		q[i] = float32(math.Exp(float64(v) - m - lse))
	}
	return term
}

// logSumExp returns the maximum m of z and log Σ exp(z − m), in float64 so
// that a thousand-way sum loses nothing.
func logSumExp(z []float32) (m, lse float64) {
	m = math.Inf(-1)
	for _, v := range z {
		m = max(m, float64(v))
	}
	var s float64
	for _, v := range z {
		s += math.Exp(float64(v) - m)
	}
	return m, math.Log(s)
}

// Loss writes the probabilities into prob, as Softmax does, and returns the
// mean negative log-probability of the labels, −(1/N)·Σ_n log p_n[label_n],
// computed as log-sum-exp minus the true logit so that it stays finite even
// when the true class's probability underflows float32.
func (p SoftmaxLoss) Loss(logits []float32, labels []int32, prob []float32) float64 {
	size := p.N * p.Classes
	checkLen("SoftmaxLoss.Loss", "logits", size, logits)
	checkLen("SoftmaxLoss.Loss", "prob", size, prob)
	checkLen32("SoftmaxLoss.Loss", "labels", p.N, labels)
	p.checkLabels("SoftmaxLoss.Loss", labels)
	var total float64
	if parts := tryParts(2*size*expCost, p.N); parts > 1 {
		if len(lossTerms) < p.N {
			lossTerms = make([]float64, p.N)
		}
		terms := lossTerms[:p.N]
		softmaxRun = softmaxJob{p, logits, prob, labels, terms}
		runParts(&softmaxRun, parts)
		softmaxRun = softmaxJob{}
		for _, v := range terms {
			total += v
		}
		par.mu.Unlock()
		return total / float64(p.N)
	}
	for n := 0; n < p.N; n++ {
		total += p.row(n, logits, prob, labels)
	}
	return total / float64(p.N)
}

// softmaxBwdJob is Backward's parallel region.
type softmaxBwdJob struct {
	p             SoftmaxLoss
	prob, dlogits []float32
	labels        []int32
}

var softmaxBwd softmaxBwdJob

func (j *softmaxBwdJob) do(i, n int) {
	lo, hi := share(i, n, j.p.N)
	j.p.backwardRows(lo, hi, j.prob, j.labels, j.dlogits)
}

// Backward writes the gradient of the mean loss with respect to the logits,
// (prob − onehot(label))/N, from the probabilities Loss wrote. dlogits may
// be the same slice as prob.
func (p SoftmaxLoss) Backward(prob []float32, labels []int32, dlogits []float32) {
	size := p.N * p.Classes
	checkLen("SoftmaxLoss.Backward", "prob", size, prob)
	checkLen("SoftmaxLoss.Backward", "dlogits", size, dlogits)
	checkLen32("SoftmaxLoss.Backward", "labels", p.N, labels)
	p.checkLabels("SoftmaxLoss.Backward", labels)
	if parts := tryParts(size, p.N); parts > 1 {
		softmaxBwd = softmaxBwdJob{p, prob, dlogits, labels}
		runParts(&softmaxBwd, parts)
		softmaxBwd = softmaxBwdJob{}
		par.mu.Unlock()
		return
	}
	p.backwardRows(0, p.N, prob, labels, dlogits)
}

// backwardRows is Backward on rows [lo, hi).
func (p SoftmaxLoss) backwardRows(lo, hi int, prob []float32, labels []int32, dlogits []float32) {
	inv := 1 / float32(p.N)
	vec := gemmActive.Load().scale
	for n := lo; n < hi; n++ {
		q := prob[n*p.Classes : (n+1)*p.Classes]
		d := dlogits[n*p.Classes : (n+1)*p.Classes]
		done := 0
		if vec != nil {
			done = vec(q, d, inv)
		}
		for i, v := range q[done:] {
			d[done+i] = v * inv
		}
		d[labels[n]] -= inv
	}
}

// checkLabels panics on a label outside [0, Classes), which would otherwise
// read or write another image's row.
func (p SoftmaxLoss) checkLabels(kernel string, labels []int32) {
	for n, l := range labels[:p.N] {
		if l < 0 || int(l) >= p.Classes {
			panic(fmt.Sprintf("cpu.%s: label %d of image %d is outside [0, %d)", kernel, l, n, p.Classes))
		}
	}
}

// Errors counts the images whose label is not among the k highest scores of
// its row (k = 1 and k = 5 give the paper's top-1 and top-5 error counts).
// Scores may be probabilities or logits, since softmax keeps their order.
// Ties are broken as a stable descending sort would: a class outranks the
// label if its score is higher, or equal and its index smaller. A NaN score
// for the label counts as an error.
func (p SoftmaxLoss) Errors(scores []float32, labels []int32, k int) int {
	checkLen("SoftmaxLoss.Errors", "scores", p.N*p.Classes, scores)
	checkLen32("SoftmaxLoss.Errors", "labels", p.N, labels)
	p.checkLabels("SoftmaxLoss.Errors", labels)
	errors := 0
	for n := 0; n < p.N; n++ {
		row := scores[n*p.Classes : (n+1)*p.Classes]
		l := int(labels[n])
		s := row[l]
		if s != s {
			errors++
			continue
		}
		above := 0
		for i, v := range row {
			if v > s || (v == s && i < l) {
				above++
			}
		}
		if above >= k {
			errors++
		}
	}
	return errors
}
