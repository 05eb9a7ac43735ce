package train

// EpochReport is what one epoch did, written as a JSON line to metrics.jsonl.
type EpochReport struct {
	Epoch      int     `json:"epoch"`
	Step       int     `json:"step"`
	LR         float64 `json:"lr"`
	TrainLoss  float64 `json:"train_loss"`
	TrainError float64 `json:"train_error"` // top-1, on the training batches as they were augmented
	ValLoss    float64 `json:"val_loss"`
	ValTop1    float64 `json:"val_top1_error"`
	ValTop5    float64 `json:"val_top5_error"`
	Seconds    float64 `json:"seconds"` // training time so far, not counting evaluation
	ImagesPerS float64 `json:"images_per_second"`
	Skipped    int     `json:"skipped_images,omitempty"`
}
